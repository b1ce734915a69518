"""`pa3 check`: the student's self-check on their own files, with the same sandbox as the grader."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from grader.grade import grade
from grader.members import NOTEBOOK, PART1
from grader.options import GradeOptions
from grader.results import GradeResult


def options_for(folder: Path, members: tuple[str, ...] | None = None, notebook: bool = False,
                data_dir: Path | None = None, isolation: str | None = "auto",
                environ: Mapping[str, str] | None = None) -> GradeOptions:
    """The self-check's GradeOptions: the visible specs only, of ``members`` when given (see
    grader.members.select); the notebook runs when asked for or among the members. It reads the student's
    own FashionMNIST: ``data_dir``, else DATA_DIR as the notebook resolves it, PA3_DATA_DIR or ``data``
    beside the notebook.
    """
    environ = os.environ if environ is None else environ
    if members is not None:
        notebook = notebook or NOTEBOOK in members
        members = tuple(m for m in members if m in PART1)
    if notebook and data_dir is None:
        data_dir = Path(folder) / environ.get("PA3_DATA_DIR", "data")  # an absolute PA3_DATA_DIR wins the join
    return GradeOptions.from_environment(environ, isolation=isolation, notebook=notebook, data_dir=data_dir,
                                         spec_folders=("public",), only=members)


def check(folder: Path, options: GradeOptions) -> GradeResult:
    """Grade ``folder`` with ``options`` (see options_for) and keep the visible tests: hidden tests are never
    part of a self-check."""
    result = grade(Path(folder), options)
    return replace(result, tests=[t for t in result.tests if t.visibility == "visible"])


def not_limited(result: GradeResult) -> list[str]:
    """What the sandbox that ran ``result`` could not limit on this machine (said once in the report)."""
    from grader.sandbox import cgroup, hostcaps, isolation

    level = result.isolation.split(":", 1)[0]
    bwrap_reason = isolation.unavailable_reason("bwrap") if level != "bwrap" else None
    confined = bool((result.extra.get("isolation_checks") or {}).get("confined"))
    return hostcaps.not_limited(level, bwrap_reason, cgroups=cgroup.available(), confined=confined)


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
    result = check(Path(folder), options_for(Path(folder), members, notebook, data_dir, isolation))
    print_progress(result, console, ", ".join(names), not_limited(result))
    return (0 if all(t.status == "passed" for t in result.tests) else 1), result
