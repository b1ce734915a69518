"""Stand-in for Colab's ``google.colab`` inside the grading kernel (the grader runs no Colab).

Notebooks written in Colab import it to mount Google Drive or upload files. In grading those calls never raise:
they do nothing, or return the submission's files (the submission and the data are already in place), so the
rest of the notebook runs.
"""

from . import data_table, drive, files, output, patches  # noqa: F401
