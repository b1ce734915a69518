"""PA3 autograder and self-check harness."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "reference"
TEMPLATE_DIR = PROJECT_ROOT / "student_template"
# What the grader supplies to every submission (optimizer.py, data/iris.csv): the reference in the
# repo, a copy inside the package in the student bundle and the autograder.
PROVIDED_DIR = Path(__file__).resolve().parent / "provided"
if not PROVIDED_DIR.is_dir():
    PROVIDED_DIR = REFERENCE_DIR
PROVIDED_FILES = ("optimizer.py", "data/iris.csv")
