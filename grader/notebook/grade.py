"""Grade Section 2: prepare the data, run the notebook in a sandboxed kernel, evaluate outside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from grader import PROVIDED_DIR, PROVIDED_FILES
from grader.fashion_data import prepare
from grader.messages import DEADLINE_REACHED, NOT_RUN
from grader.notebook import judge
from grader.notebook.export import INPUT_SHAPES, MODEL_FILE
from grader.notebook.kernel import SandboxedKernel
from grader.notebook.run import execute, load
from grader.options import GradeOptions
from grader.results import TestResult
from grader.sandbox import isolation as isolation_levels
from grader.submission import Intake
from grader.threads import environment as thread_environment
from grader.workspace import Workspace
from test_specs.contract import SUBMITTED_MODULES

# The cell timeout and notebook budget (CELL_TIMEOUT, NOTEBOOK_BUDGET) are GradeOptions' defaults; the
# entry points read PA3_CELL_TIMEOUT and PA3_NOTEBOOK_BUDGET (grader.options).
EVALUATION_TIMEOUT = 300
RESERVE = 30  # seconds kept for evaluation and writing results before a deadline


# -I ignores PYTHONPATH, and on Gradescope the grader is not installed (run_autograder puts its source
# on PYTHONPATH): the evaluator is found from the source folder passed as the first argument.
_EVALUATE = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
             "runpy.run_module('grader.notebook.evaluate', run_name='__main__', alter_sys=True)")


def evaluate_outside(model: Path, data_root: Path, layout: str = "images", threads: int | None = None,
                     timeout: float = EVALUATION_TIMEOUT) -> tuple[dict | None, str | None]:
    """Run the evaluator in a separate clean process, after the kernel has exited, within the thread budget."""
    if layout not in INPUT_SHAPES:  # written by the kernel: never trusted as an argument
        return None, f"the export named an unknown input layout {str(layout)[:40]!r}"
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _EVALUATE, str(Path(__file__).resolve().parents[2]),
                               str(model), str(data_root), layout], capture_output=True, text=True,
                              timeout=max(1.0, timeout),
                              env=dict(isolation_levels.scrubbed_env(), **thread_environment(threads)))
    except subprocess.TimeoutExpired:
        return None, f"evaluating the exported model took more than {max(1.0, timeout):g} s"
    if done.returncode != 0:
        return None, ("the exported model could not be evaluated: "
                      f"{done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return json.loads(done.stdout), None


def grade_notebook(intake: Intake | None, workspace: Workspace, options: GradeOptions, deadline_at: float | None,
                   unreadable: str | None = None) -> list[TestResult]:
    """Section 2 with ``options`` (isolation, data_dir, threshold, cell_timeout, notebook_budget, threads,
    keep_dir), called as grader.section1.grade_numpy is; never past ``deadline_at``."""
    threshold, threads = options.threshold, options.threads
    if intake is None:
        return judge.all_failed(unreadable or "the submission could not be read", threshold)
    if "PA3.ipynb" not in intake.files:
        return judge.all_failed(intake.problems.get("PA3.ipynb", "PA3.ipynb is missing"), threshold)
    try:
        nb = load(intake.files["PA3.ipynb"])
    except ValueError as exc:
        return judge.all_failed(str(exc), threshold)
    source = options.data_dir  # PA3_FMNIST_DIR, when no folder was given, was read by the entry point
    if source is None:
        return judge.all_failed("no FashionMNIST data to run the notebook with: pass --data-dir DIR "
                                "(idx files, gz or raw, or a torchvision root); nothing is downloaded", threshold)
    try:
        data_root = workspace.path("fmnist", mode=0o755)  # the kernel's uid reads it
        prepare(Path(source), data_root)
    except (OSError, ValueError) as exc:
        return judge.all_failed(f"FashionMNIST data at {source} cannot be used: {exc}", threshold)

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
            return judge.all_failed(f"{NOT_RUN}{DEADLINE_REACHED} before the notebook started", threshold)
    level = isolation_levels.resolve(options.isolation)
    kernel = SandboxedKernel(level, work, data_root, export, workspace.path("scratch", mode=0o711), threads=threads)
    run = execute(nb, kernel, min(options.cell_timeout, budget), budget)
    model = export / MODEL_FILE
    # Evaluation too ends before the deadline (RESERVE was kept for it).
    timeout = EVALUATION_TIMEOUT if deadline_at is None else min(EVALUATION_TIMEOUT, deadline_at - time.monotonic())
    evaluation, error = (evaluate_outside(model, data_root, run.export.get("input") or "images", threads, timeout)
                         if model.is_file() and run.export.get("model")
                         else (None, None))
    if options.keep_dir is not None and run.notebook is not None:
        keep(run.notebook, options.keep_dir)
    return judge.judge(run, evaluation, error, threshold)


def keep(nb, folder: Path) -> None:
    """The executed notebook, and an HTML rendering of it for TAs, beside results.json."""
    import nbformat
    from nbconvert import HTMLExporter

    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / "PA3.executed.ipynb"))
    html, _ = HTMLExporter().from_notebook_node(nb)
    (folder / "PA3.executed.html").write_text(html)
