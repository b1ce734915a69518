"""PA3 autograder and self-check harness."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "reference"
TEMPLATE_DIR = PROJECT_ROOT / "student_template"
