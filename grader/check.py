"""`pa3 check`: the student's self-check on their own files, with the same sandbox as the grader."""

from __future__ import annotations

import time
from pathlib import Path

from grader.grade import grade_numpy
from grader.results import GradeResult
from grader.submission import SubmissionError, take
from grader.workspace import Workspace


def check(folder: Path, isolation: str | None = "auto", notebook: bool = False, data_dir: Path | None = None) -> GradeResult:
    """Run the visible tests on ``folder``; hidden tests are never part of a self-check."""
    start = time.monotonic()
    notes: list[str] = []
    with Workspace() as workspace:
        intake, unreadable = None, None
        try:
            intake = take(Path(folder), workspace.path("unpacked"))
            notes += [problem for name, problem in intake.problems.items() if name.endswith(".py")]
        except SubmissionError as exc:
            unreadable = str(exc)
            notes.append(unreadable)
        tests, description, seed = grade_numpy(intake, workspace, isolation, None, spec_folders=("public",),
                                               unreadable=unreadable)
        if notebook:
            from grader.notebook.grade import grade_notebook

            tests += grade_notebook(intake, workspace, isolation, None, data_dir, None, unreadable, own_data=True)
    tests = [t for t in tests if t.visibility == "visible"]
    return GradeResult(tests=tests, execution_time=time.monotonic() - start, isolation=description, seed=seed,
                       notes=notes)
