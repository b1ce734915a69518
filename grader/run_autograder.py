"""What run_autograder runs: grade /autograder/submission into /autograder/results/results.json.

The /autograder root can be moved with PA3_AUTOGRADER_ROOT so tests run the same code in a simulated tree.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from grader.grade import grade
from grader.notebook.keep import keep
from grader.options import GradeOptions
from grader.render.feedback_html import render
from grader.render.terminal import print_report
from grader.results import not_graded, write_results


def student_names(root: Path) -> list[str]:
    """Names from submission_metadata.json, for the HTML page only (never printed to the log)."""
    try:
        metadata = json.loads((root / "submission_metadata.json").read_text())
        return [str(user.get("name", "")) for user in metadata.get("users", []) if isinstance(user, dict)]
    except (OSError, ValueError, AttributeError):
        return []


def run(root: Path) -> int:
    """Grade ROOT/submission and write ROOT/results (results.json, feedback.html); always 0, as Gradescope
    reads the results file, not the exit status."""
    start = time.monotonic()
    results_dir = root / "results"
    try:
        # The deadline derived from Gradescope's timeout, the data, the isolation: from the environment.
        result = grade(root / "submission", replace(GradeOptions.for_gradescope(root), keep_dir=None))
    except Exception as exc:  # noqa: BLE001 - Gradescope must always get a results file
        result = not_graded(f"the autograder failed ({type(exc).__name__}: {exc})", time.monotonic() - start)
    write_results(results_dir / "results.json", result)
    keep(result.executed_notebook, results_dir, result.deadline_at)  # after results.json is safe, within the deadline
    (results_dir / "feedback.html").write_text(render(result, students=student_names(root)))
    print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(os.environ.get("PA3_AUTOGRADER_ROOT", "/autograder"))))
