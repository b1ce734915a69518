"""Stand-in for Colab's ``google.colab`` inside the grading kernel (the grader runs no Colab).

Notebooks written in Colab import it to mount Google Drive or upload files; in grading those calls
do nothing (the submission and the data are already in place), so the rest of the notebook runs.
"""

from . import drive, files, output, patches  # noqa: F401
