"""Uploads and downloads need a browser: in grading they raise with a message saying so."""


def upload(*args, **kwargs):
    raise RuntimeError("google.colab.files.upload() needs Colab's browser; in grading, read files from "
                       "beside the notebook or from DATA_DIR instead")


def download(filename, *args, **kwargs):
    print(f"[PA3 grader] files.download({filename!r}) skipped: Colab-only")
