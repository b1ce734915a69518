"""The thread budget of a grading: cores // gradings at once, held by the sandboxed kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from grader import threads
from grader.notebook.kernel import SandboxedKernel
from grader.notebook.run import execute
from grader.sandbox import isolation
from grader.workspace import Workspace


@pytest.mark.parametrize("cores, concurrent, expected", [(16, 8, 2), (16, 1, 16), (2, 2, 1), (2, 5, 1), (16, 3, 5)])
def test_each_grading_gets_its_share_of_the_cores(cores, concurrent, expected):
    assert threads.plan("auto", cores, concurrent) == expected


def test_batch_settings_all_and_a_number_override_the_rule():
    assert threads.plan("all", 16, 8) is None and threads.environment(None) == {}
    assert threads.plan(3, 16, 8) == 3 and threads.plan("3", 16, 8) == 3
    env = threads.environment(3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["PA3_THREADS"] == "3"
    with pytest.raises(ValueError, match="--threads"):
        threads.plan("0", 16, 8)


@pytest.mark.parametrize("argv", [["grade", "x", "--threads", "0"], ["batch", "x", "--out", "y", "--threads", "some"]])
def test_a_bad_thread_setting_is_refused_on_the_command_line(argv, capsys):
    from grader.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert "--threads" in capsys.readouterr().err


def test_cores_counts_what_this_process_may_run_on():
    assert 1 <= threads.cores() <= (os.cpu_count() or 1)


def _run_cell(budget: str, student: str) -> list[int]:
    code = threads.kernel_cell_source() + "\nimport torch\n" + student
    env = dict(os.environ, PA3_THREADS=budget, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_students_own_set_num_threads_wins_within_the_budget():
    after = _run_cell("2", "seen = [torch.get_num_threads()]\n"
                           "torch.set_num_threads(1); seen.append(torch.get_num_threads())\n"
                           "torch.set_num_threads(64); seen.append(torch.get_num_threads())\n"
                           "from torch import set_num_threads; set_num_threads(5); "
                           "seen.append(torch.get_num_threads())\n"
                           "print(__import__('json').dumps(seen))")
    assert after == [2, 1, 2, 2]


@pytest.mark.slow
@pytest.mark.parametrize("budget", [1, None])
def test_the_sandboxed_kernel_starts_within_its_budget(budget):
    cells = ["import json, os, torch\n"
             "print(json.dumps([torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS'), "
             "os.environ.get('PA3_THREADS')]))",
             "torch.set_num_threads(64)\nprint(json.dumps(torch.get_num_threads()))"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    with Workspace() as ws:
        kernel = SandboxedKernel(isolation.resolve("auto"), ws.path("notebook"), None, ws.path("export"),
                                 ws.path("scratch", mode=0o711), threads=budget)  # as grade_notebook makes it
        run = execute(nb, kernel, cell_timeout=120, budget=300)
    assert not run.errors and run.stopped is None, (run.errors, run.stopped)
    first, second = (json.loads(c.outputs[0]["text"]) for c in run.notebook.cells)
    if budget is None:  # pa3 grade alone: torch's own default, every core
        assert first[0] >= threads.cores() and first[1:] == [None, None] and second == 64
    else:
        assert first == [budget, str(budget), str(budget)] and second == budget


def test_a_dask_cluster_shares_each_machines_cores_among_the_tasks_it_runs_at_once():
    from grader.batch.executors import dask_plan

    workers = {"tcp://a:1": {"host": "a", "nthreads": 4}, "tcp://a:2": {"host": "a", "nthreads": 4},
               "tcp://b:1": {"host": "b", "nthreads": 2}}
    cores = {"tcp://a:1": 16, "tcp://a:2": 16, "tcp://b:1": 16}
    assert dask_plan("auto", workers, cores) == {"tcp://a:1": 2, "tcp://a:2": 2, "tcp://b:1": 8}
    assert dask_plan("all", workers, cores) == dict.fromkeys(workers)
