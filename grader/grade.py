"""Grade one submission: intake, workspace, sandbox, spec run, results."""

from __future__ import annotations

import time
from pathlib import Path

from grader import PROVIDED_DIR
from grader.budget import DEFAULT_DEADLINE, NUMPY_BUDGET
from grader.members import stub_members
from grader.results import GradeResult, TestResult
from grader.sandbox import isolation as isolation_levels
from grader.sandbox import secrets, uids
from grader.sandbox.client import Sandbox
from grader.sandbox.limits import Limits
from grader.spec_run import SPEC_DIR, SpecContext, run_specs
from grader.submission import Intake, SubmissionError, take, worker_copy
from grader.threads import record as thread_record
from grader.workspace import Workspace
from test_specs.contract import SUBMITTED_MODULES
from test_specs.rubric import AUTOGRADED_SECTIONS, FASHION_MIN_ACCURACY, HAND_GRADED

IRIS_CSV = PROVIDED_DIR / "data" / "iris.csv"


def grade_numpy(intake: Intake | None, workspace: Workspace, isolation: str | None, deadline_at: float | None,
                limits: Limits = Limits(), spec_folders: tuple[str, ...] = ("public", "hidden"),
                unreadable: str | None = None, only: tuple[str, ...] | None = None,
                budget: float = NUMPY_BUDGET) -> tuple[list[TestResult], str, str]:
    """Sections 1.1 and 1.2 (the tests of the members in ``only``, when given): (results, isolation description, seed).

    Both sections together get ``budget`` seconds (and never run past ``deadline_at``): calls that each
    stay under their own limit cannot add up to hold the grader; past it, the remaining tests fail at once.
    """
    budget_at = time.monotonic() + budget
    if deadline_at is None or budget_at < deadline_at:
        deadline_at, reason = budget_at, (f"the time budget of Sections 1.1 and 1.2 ({budget:g} s in all) was "
                                          f"used up; look for slow or sleeping code")
    else:
        reason = "the grading deadline was reached"
    if intake is None:  # nothing readable: every module is blocked with the same message
        problems = {module: unreadable or "the submission could not be read" for module in SUBMITTED_MODULES}
        sources, seed, folder = {}, "0" * 64, workspace.path("worker")
    else:
        problems = intake.module_problems()
        sources = {m: intake.files[f"{m}.py"].read_text(encoding="utf-8-sig") for m in SUBMITTED_MODULES
                   if f"{m}.py" in intake.files}
        seed, folder = intake.digest, worker_copy(intake, workspace.path("worker"), PROVIDED_DIR)
    with Sandbox(folder, isolation, limits, blocked_modules=problems) as sandbox:
        sandbox.deadline_at, sandbox.deadline_reason = deadline_at, reason
        context = SpecContext(sandbox, sources, problems, seed, IRIS_CSV)
        folders = [SPEC_DIR / f for f in spec_folders if (SPEC_DIR / f).is_dir()]
        results = run_specs(context, folders, AUTOGRADED_SECTIONS["numpy"] if "hidden" in spec_folders else (),
                            deadline_at, only)
        description = sandbox.description
    return results, description, seed


def _section_2(intake, workspace, isolation, deadline_at, data_dir, keep_dir, unreadable, threshold,
               cell_timeout, threads=None) -> list[TestResult]:
    """Section 2, failing its own tests (never the whole grade) if the notebook grader itself breaks."""
    from grader.notebook import judge
    from grader.notebook.grade import grade_notebook

    options = {"cell_timeout": cell_timeout} if cell_timeout else {}
    try:
        return grade_notebook(intake, workspace, isolation, deadline_at, data_dir, keep_dir, unreadable,
                              threshold=threshold, threads=threads, **options)
    except Exception as exc:  # noqa: BLE001 - Sections 1.1 and 1.2 are already graded and must be kept
        return judge.all_failed(f"grader error while running the notebook (not your fault; please tell the "
                                f"course staff): {type(exc).__name__}: {exc}", threshold)


def grade(submission: Path, isolation: str | None = "auto", notebook: bool = True, deadline: float | None = None,
          data_dir: Path | None = None, keep_dir: Path | None = None,
          threshold: float = FASHION_MIN_ACCURACY, cell_timeout: float | None = None,
          spec_folders: tuple[str, ...] = ("public", "hidden"), only: tuple[str, ...] | None = None,
          threads: int | None = None, numpy_budget: float = NUMPY_BUDGET) -> GradeResult:
    """Grade ``submission`` (a folder or a zip). ``deadline``: seconds after which nothing more runs (default:
    derived from the outer limits, see grader.budget); ``numpy_budget``: seconds for Sections 1.1 and 1.2.

    ``only``: run the tests of these members alone (see grader.members). ``threads``: the thread budget of the
    notebook's kernel and evaluator (a batch's share of the cores); None leaves torch its own default.
    """
    start = time.monotonic()
    deadline_at = start + (deadline if deadline and deadline > 0 else DEFAULT_DEADLINE)
    notes: list[str] = []
    isolation = isolation_levels.resolve(isolation)  # with its start-up check of the secrets (raises if refused)
    checks = secrets.check(isolation).as_dict() if isolation != "none" else {"level": "none", "safe": False}
    with Workspace() as workspace:
        intake, unreadable, stubs, blocked = None, None, [], {}
        try:
            intake = take(Path(submission), workspace.path("unpacked"))
            notes += intake.notes
            notes += [problem for name, problem in intake.problems.items()]
            blocked = intake.module_problems()
            stubs = stub_members({m: intake.files[f"{m}.py"].read_text(encoding="utf-8-sig", errors="replace")
                                  for m in SUBMITTED_MODULES if f"{m}.py" in intake.files})
        except SubmissionError as exc:
            unreadable = str(exc)
            notes.append(unreadable)
            blocked = {module: unreadable for module in SUBMITTED_MODULES}
        except Exception as exc:  # noqa: BLE001 - intake is a trust boundary: whatever arrives, grading goes on
            unreadable = f"the submission could not be read ({type(exc).__name__}: {str(exc)[:300]})"
            notes.append(unreadable)
            blocked = {module: unreadable for module in SUBMITTED_MODULES}
        try:
            tests, description, seed = grade_numpy(intake, workspace, isolation, deadline_at,
                                                   spec_folders=spec_folders, unreadable=unreadable, only=only,
                                                   budget=numpy_budget)
            if notebook:
                tests += _section_2(intake, workspace, isolation, deadline_at, data_dir, keep_dir, unreadable,
                                    threshold, cell_timeout, threads)
        finally:  # the sandbox uid is this grader's alone: whatever it still runs or left in /tmp goes
            if checks.get("uid") is not None:
                checks["after"] = uids.sweep(checks["uid"])
    # Tests cut short by a time limit say so in their output ("not run: ..." / "stopped: ..."): the TA is told.
    cut = sum(1 for t in tests if t.output.startswith(("not run: ", "stopped: ")))
    if cut:
        notes.append(f"{cut} test(s) were cut short by the grading's time limits (their outputs say which)")
    return GradeResult(tests=tests, execution_time=time.monotonic() - start, isolation=description, seed=seed,
                       notes=notes, hand_graded=list(HAND_GRADED),
                       extra={"intake": unreadable or "ok", "stub_members": stubs, "module_problems": blocked,
                              "problems": dict(intake.problems) if intake else {}, "threads": thread_record(threads),
                              "isolation_checks": checks, "cut_short": cut})
