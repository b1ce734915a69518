"""Grade Section 2: prepare the data, run the notebook in a sandboxed kernel, evaluate outside it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from nbformat import NotebookNode

from grader import PROVIDED_DIR, PROVIDED_FILES
from grader.fashion_data import prepare_for_notebook
from grader.messages import DEADLINE_REACHED, NOT_RUN
from grader.notebook import judge
from grader.notebook.evaluate import EvaluationFailed, evaluate
from grader.notebook.kernel import SandboxedKernel
from grader.notebook.run import execute, load
from grader.options import GradeOptions
from grader.results import TestResult
from grader.sandbox import isolation as isolation_levels
from grader.sandbox import uids
from grader.submission import Intake
from grader.workspace import Workspace
from test_specs.contract import SUBMITTED_MODULES

# The cell timeout and notebook budget (CELL_TIMEOUT, NOTEBOOK_BUDGET) are GradeOptions' defaults; the
# entry points read PA3_CELL_TIMEOUT and PA3_NOTEBOOK_BUDGET (grader.options).
EVALUATION_TIMEOUT = 300
RESERVE = 30  # seconds kept for evaluation and writing results before a deadline


def facts(threshold: float, evaluation: dict | None = None, environment: str | None = None,
          kernel: SandboxedKernel | None = None) -> dict:
    """What results.json records of Section 2 for TAs' tools (``extra_data.section2``): the measured accuracy,
    the threshold, how many held-out images, the export format, the setting to raise when the grader's
    environment stopped the notebook, and the kernel's memory limit and peak (MB, where a cgroup measured it)."""
    evaluation = evaluation or {}
    memory, peak = (kernel.memory_limit, kernel.peak) if kernel is not None else (None, None)
    return {"accuracy": evaluation.get("accuracy"), "threshold": threshold, "images": evaluation.get("n"),
            "format": evaluation.get("format"), "env_fault": environment,
            "kernel_memory_mb": memory >> 20 if memory else None, "kernel_peak_mb": peak >> 20 if peak else None}


def grade_notebook(intake: Intake | None, workspace: Workspace, options: GradeOptions, deadline_at: float | None,
                   unreadable: str | None = None) -> tuple[list[TestResult], dict, NotebookNode | None]:
    """Section 2 with ``options`` (isolation, data_dir, threshold, cell_timeout, notebook_budget, threads,
    keep_dir), called as grader.section1.grade_numpy is; never past ``deadline_at``. Returns its tests,
    ``facts`` and the executed notebook (for grader.notebook.keep, once results are safe)."""
    threshold, threads = options.threshold, options.threads

    def failed(message: str) -> tuple[list[TestResult], dict, None]:
        return judge.all_failed(message, threshold), facts(threshold), None

    if intake is None:
        return failed(unreadable or "the submission could not be read")
    if "PA3.ipynb" not in intake.files:
        return failed(intake.problems.get("PA3.ipynb", "PA3.ipynb is missing"))
    try:
        nb = load(intake.files["PA3.ipynb"])
    except ValueError as exc:
        return failed(str(exc))
    source = options.data_dir  # PA3_FMNIST_DIR, when no folder was given, was read by the entry point
    if source is None:
        return failed("no FashionMNIST data to run the notebook with: pass --data-dir DIR "
                      "(idx files, gz or raw, or a torchvision root); nothing is downloaded")
    try:
        data_root = workspace.path("fmnist", mode=0o755)  # the kernel's uid reads it
        held_out = prepare_for_notebook(Path(source), data_root)  # the test images the kernel never sees
    except (OSError, ValueError) as exc:
        return failed(f"FashionMNIST data at {source} cannot be used: {exc}")

    work = workspace.path("notebook")
    for module in SUBMITTED_MODULES:  # Part 1.2 of the notebook imports the student's modules
        if f"{module}.py" in intake.files:
            shutil.copyfile(intake.files[f"{module}.py"], work / f"{module}.py")
    for rel in PROVIDED_FILES:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROVIDED_DIR / rel, work / rel)
    export = workspace.path("export")
    budget = options.notebook_budget
    if deadline_at is not None:
        budget = min(budget, deadline_at - time.monotonic() - RESERVE)
        if budget <= 0:
            return failed(f"{NOT_RUN}{DEADLINE_REACHED} before the notebook started")
    level = isolation_levels.resolve(options.isolation)
    kernel = SandboxedKernel(level, work, data_root, export, workspace.path("scratch", mode=0o711), threads=threads)
    run = execute(nb, kernel, min(options.cell_timeout, budget), budget)
    if kernel.process.uid is not None:  # nothing the kernel started outlives it into the evaluation
        uids.kill_all(kernel.process.uid)
    # Evaluation too ends before the deadline (RESERVE was kept for it).
    timeout = EVALUATION_TIMEOUT if deadline_at is None else min(EVALUATION_TIMEOUT, deadline_at - time.monotonic())
    evaluation, error = None, None
    if run.export.get("model"):
        try:
            evaluation = evaluate(export, run.export, held_out, level, workspace.path("evaluation", mode=0o711),
                                  threads, timeout)
        except EvaluationFailed as exc:
            error = str(exc)
    section2 = facts(threshold, evaluation, run.environment, kernel)
    return judge.judge(run, evaluation, error, threshold), section2, run.notebook

