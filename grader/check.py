"""`pa3 check`: the student's self-check on their own files, with the same sandbox as the grader."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from grader.grade import grade
from grader.results import GradeResult


def check(folder: Path, isolation: str | None = "auto", notebook: bool = False, data_dir: Path | None = None) -> GradeResult:
    """Run the visible tests on ``folder``; hidden tests are never part of a self-check.

    The notebook reads the student's own FashionMNIST: DATA_DIR as the notebook resolves it,
    PA3_DATA_DIR or ``data`` beside the notebook.
    """
    folder = Path(folder)
    if notebook and data_dir is None:
        data_dir = folder / os.environ.get("PA3_DATA_DIR", "data")  # an absolute PA3_DATA_DIR wins the join
    result = grade(folder, isolation=isolation, notebook=notebook, data_dir=data_dir, spec_folders=("public",))
    return replace(result, tests=[t for t in result.tests if t.visibility == "visible"])
