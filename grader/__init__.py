"""PA3 autograder and self-check harness."""

from pathlib import Path

from test_specs import contract as _contract
from test_specs.contract import PROVIDED_FILES  # noqa: F401  (optimizer.py, data/iris.csv; re-exported)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "reference"
TEMPLATE_DIR = PROJECT_ROOT / "student_template"
# Where the grader finds what it supplies to every submission (PROVIDED_FILES): the template's copy in the
# repo (identical to the reference's, a test proves it, and readable where the start-up check has closed
# reference/ to others), a copy inside the package in the student bundle and the autograder.
PROVIDED_DIR = Path(__file__).resolve().parent / "provided"
if not PROVIDED_DIR.is_dir():
    PROVIDED_DIR = TEMPLATE_DIR
SPEC_DIR = Path(_contract.__file__).resolve().parent  # test_specs/ (pa3_selfcheck/specs/ in the student bundle)


def _tell_the_sandbox() -> None:
    """The sandbox is a leaf: it is told here what sandboxed code must never read (the hidden specs and the
    reference, tried and closed at start; the grader's own source too, kept out of the confinement's rules)."""
    from grader.sandbox import confinement, secrets

    secrets.protect(SPEC_DIR / "hidden", REFERENCE_DIR)
    confinement.keep_closed(Path(__file__).resolve().parent, SPEC_DIR, REFERENCE_DIR)


_tell_the_sandbox()


def check(*members: str, folder: str | Path = ".", notebook: bool = False, data_dir: str | Path | None = None,
          isolation: str = "auto") -> None:
    """The self-check from Python, e.g. in a notebook cell: ``check("relu")`` prints the report `pa3 check relu`
    prints. Returns None so that a cell does not echo a result object after the report."""
    from grader.selfcheck import run

    # selfcheck.run builds the GradeOptions (it selects the members first)
    run(members, Path(folder), notebook=notebook, data_dir=Path(data_dir) if data_dir else None, isolation=isolation)
