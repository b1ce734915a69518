"""Sections 1.1 and 1.2: the NumPy modules' specs, run in one sandboxed worker within their time budget."""

from __future__ import annotations

import time

from grader import PROVIDED_DIR
from grader.messages import DEADLINE_REACHED
from grader.options import GradeOptions
from grader.results import TestResult
from grader.sandbox.client import Sandbox
from grader.sandbox.limits import Limits
from grader.spec_run import SPEC_DIR, SpecContext, run_specs
from grader.submission import Intake, worker_copy
from grader.workspace import Workspace
from test_specs.contract import SUBMITTED_MODULES
from test_specs.rubric import AUTOGRADED_SECTIONS

IRIS_CSV = PROVIDED_DIR / "data" / "iris.csv"


def grade_numpy(intake: Intake | None, workspace: Workspace, options: GradeOptions, deadline_at: float | None,
                unreadable: str | None = None, limits: Limits = Limits()) -> tuple[list[TestResult], str, str]:
    """Sections 1.1 and 1.2 (the tests of the members in ``options.only``, when given): (results, isolation
    description, seed). ``options.isolation`` is the level grade() resolved.

    Both sections together get ``options.numpy_budget`` seconds (and never run past ``deadline_at``): calls
    that each stay under their own limit cannot add up to hold the grader; past it, the remaining tests fail at once.
    """
    budget = options.numpy_budget
    budget_at = time.monotonic() + budget
    if deadline_at is None or budget_at < deadline_at:
        deadline_at, reason = budget_at, (f"the time budget of Sections 1.1 and 1.2 ({budget:g} s in all) was "
                                          f"used up; look for slow or sleeping code")
    else:
        reason = DEADLINE_REACHED
    if intake is None:  # nothing readable: every module is blocked with the same message
        problems = {module: unreadable or "the submission could not be read" for module in SUBMITTED_MODULES}
        sources, seed, folder = {}, "0" * 64, workspace.path("worker")
    else:
        problems = intake.module_problems()
        sources = {m: intake.files[f"{m}.py"].read_text(encoding="utf-8-sig") for m in SUBMITTED_MODULES
                   if f"{m}.py" in intake.files}
        seed, folder = intake.digest, worker_copy(intake, workspace.path("worker"), PROVIDED_DIR)
    with Sandbox(folder, options.isolation, limits, blocked_modules=problems) as sandbox:
        sandbox.deadline_at, sandbox.deadline_reason = deadline_at, reason
        context = SpecContext(sandbox, sources, problems, seed, IRIS_CSV)
        folders = [SPEC_DIR / f for f in options.spec_folders if (SPEC_DIR / f).is_dir()]
        # The rubric's missing points count only when the hidden specs ran (never in a self-check).
        sections = AUTOGRADED_SECTIONS["numpy"] if "hidden" in options.spec_folders else ()
        results = run_specs(context, folders, sections, deadline_at, options.only)
        description = sandbox.description
    return results, description, seed
