"""Grade one submission: intake, Section 1 (grader.section1), Section 2 (grader.notebook.grade), one GradeResult."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from grader.budget import DEFAULT_DEADLINE
from grader.members import stub_members
from grader.messages import CUT_SHORT, grader_error
from grader.options import GradeOptions
from grader.results import GradeResult, TestResult
from grader.sandbox import confinement, secrets, uids
from grader.sandbox import isolation as isolation_levels
from grader.section1 import grade_numpy
from grader.submission import Intake, SubmissionError, take
from grader.threads import record as thread_record
from grader.workspace import Workspace
from test_specs.contract import SUBMITTED_MODULES
from test_specs.rubric import HAND_GRADED


def _section_2(intake: Intake | None, workspace: Workspace, options: GradeOptions, deadline_at: float,
               unreadable: str | None) -> tuple[list[TestResult], dict, object]:
    """Section 2 and its facts, failing its own tests (never the whole grade) if the notebook grader itself
    breaks."""
    from grader.notebook import judge
    from grader.notebook.grade import grade_notebook

    try:
        return grade_notebook(intake, workspace, options, deadline_at, unreadable)
    except Exception as exc:  # noqa: BLE001 - Sections 1.1 and 1.2 are already graded and must be kept
        return judge.all_failed(grader_error("grader error while running the notebook",
                                             f"{type(exc).__name__}: {exc}"), options.threshold), {}, None


def peak_rss_mb() -> float | None:
    """The grading process's own peak resident memory (MB), as the kernel counts it; None where unknown.

    VmHWM is this process image's own (ru_maxrss also keeps the peak of the process it was forked from,
    across exec: a grader started by a 1 GB test runner would report 1 GB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)  # bytes on macOS, KiB on Linux


def grade(submission: Path, options: GradeOptions | None = None) -> GradeResult:
    """Grade ``submission`` (a folder or a zip) with ``options`` (default: GradeOptions(), a full grading):
    intake, Sections 1.1 and 1.2, Section 2 when ``options.notebook``, one GradeResult.

    ``options.deadline``: seconds after which nothing more runs (default: derived from the outer limits, see
    grader.budget).
    """
    options = options or GradeOptions()
    start = time.monotonic()
    deadline = options.deadline
    deadline_at = start + (deadline if deadline and deadline > 0 else DEFAULT_DEADLINE)
    notes: list[str] = []
    # with its start-up check of the secrets (raises if refused)
    isolation = isolation_levels.resolve(options.isolation)
    options = replace(options, isolation=isolation)  # both sections run at the level resolved (and checked) once
    checks = secrets.check(isolation).as_dict() if isolation != "none" else {"level": "none", "safe": False}
    # What student code could reach here (the folder the submission came from, the TA's home, the network), tried
    # as it runs; a TA reads `confinement` before trusting the grades.
    checks |= confinement.check(isolation, [Path(submission).resolve().parent])
    if not checks["confined"] and "hidden" in options.spec_folders:  # (a self-check says it under "not limited")
        notes.append(checks["confinement"])
    with Workspace() as workspace:
        intake, unreadable, stubs, blocked, section2, executed = None, None, [], {}, None, None
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
            tests, description, seed = grade_numpy(intake, workspace, options, deadline_at, unreadable)
            if options.notebook:
                notebook_tests, section2, executed = _section_2(intake, workspace, options, deadline_at, unreadable)
                tests += notebook_tests
        finally:  # the sandbox uid is this grader's alone: whatever it still runs or left in /tmp goes
            if checks.get("uid") is not None:
                checks["after"] = uids.sweep(checks["uid"])
    # Tests cut short by a time limit say so in their output ("not run: ..." / "stopped: ..."): the TA is told.
    cut = sum(1 for t in tests if t.output.startswith(CUT_SHORT))
    if cut:
        notes.append(f"{cut} test(s) were cut short by the grading's time limits (their outputs say which)")
    if executed is not None and options.keep_dir is not None:  # an API caller's folder (the CLI's waits for results)
        from grader.notebook.keep import keep

        notes += keep(executed, options.keep_dir, deadline_at)
    result = GradeResult(tests=tests, execution_time=time.monotonic() - start, isolation=description, seed=seed,
                         notes=notes, hand_graded=list(HAND_GRADED),
                         extra={"intake": unreadable or "ok", "stub_members": stubs, "module_problems": blocked,
                                "problems": dict(intake.problems) if intake else {},
                                "threads": thread_record(options.threads),
                                "isolation_checks": checks, "cut_short": cut, "grader_rss_mb": peak_rss_mb(),
                                **({"section2": section2} if section2 is not None else {})})
    result.executed_notebook, result.deadline_at = executed, deadline_at
    return result
