"""`pa3 check`: the student's self-check on their own files, with the same sandbox as the grader."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from grader.grade import grade
from grader.members import NOTEBOOK, PART1
from grader.results import GradeResult


def check(folder: Path, isolation: str | None = "auto", notebook: bool = False, data_dir: Path | None = None,
          members: tuple[str, ...] | None = None) -> GradeResult:
    """Run the visible tests on ``folder``; hidden tests are never part of a self-check.

    ``members`` (see grader.members.select): only their tests; the notebook runs when it is among them.
    The notebook reads the student's own FashionMNIST: DATA_DIR as the notebook resolves it,
    PA3_DATA_DIR or ``data`` beside the notebook.
    """
    folder = Path(folder)
    if members is not None:
        notebook = notebook or NOTEBOOK in members
        members = tuple(m for m in members if m in PART1)
    if notebook and data_dir is None:
        data_dir = folder / os.environ.get("PA3_DATA_DIR", "data")  # an absolute PA3_DATA_DIR wins the join
    result = grade(folder, isolation=isolation, notebook=notebook, data_dir=data_dir, spec_folders=("public",),
                   only=members)
    return replace(result, tests=[t for t in result.tests if t.visibility == "visible"])


def not_limited(result: GradeResult) -> list[str]:
    """What the sandbox that ran ``result`` could not limit on this machine (said once in the report)."""
    from grader.sandbox import cgroup, hostcaps, isolation

    level = result.isolation.split(":", 1)[0]
    bwrap_reason = isolation.unavailable_reason("bwrap") if level != "bwrap" else None
    return hostcaps.not_limited(level, bwrap_reason, cgroups=cgroup.available())


def run(names: list[str] | tuple[str, ...] = (), folder: Path | str = ".", notebook: bool = False,
        data_dir: Path | None = None, isolation: str | None = "auto", console=None) -> tuple[int, GradeResult | None]:
    """Check, print the progress report, and return (exit status, result): 0 when every test run passed,
    1 when one failed, 2 for an unknown member name (the message lists the valid ones)."""
    from rich.console import Console

    from grader.members import UnknownMember, select
    from grader.render.terminal import print_progress

    console = console or Console(highlight=False)
    try:
        members = select(names) if names else None
    except UnknownMember as exc:
        console.print(str(exc), markup=False)
        return 2, None
    result = check(Path(folder), isolation=isolation, notebook=notebook, data_dir=data_dir, members=members)
    print_progress(result, console, ", ".join(names), not_limited(result))
    return (0 if all(t.status == "passed" for t in result.tests) else 1), result
