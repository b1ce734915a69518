"""The thread rule for 8 workers on 16 cores: a SIMULATION of the plan, and a scaled-down MEASUREMENT here.

Issue 15 measured on a 16-core machine: one notebook's training alone 13.8 s; eight at once with torch's
default threads (8 x 16 = 128 threads on 16 cores) unfinished after 400 s. This machine has too few cores
to repeat that, so:

- the plan is computed for a pretend 16-core machine (and a pretend Dask cluster of two of them) with the
  grader's own functions: the threads each grading gets, and the threads in all;
- the oversubscription is measured here scaled down to the same factor: 2 processes x 8 threads on 2 cores
  (8x, as 8 x 16 on 16) against the rule (2 x 1) and torch's default here (2 x 2), each process doing
  the same training steps of the issue's 784-512-256-10 MLP on random data.

    .venv/bin/python -m pytest benchmarks/test_thread_rule.py -s
    PA3_BENCH_STEPS=20 .venv/bin/python -m pytest benchmarks/test_thread_rule.py -s   # a quick check
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest

from grader import threads
from grader.batch.executors import dask_plan

STEPS = int(os.environ.get("PA3_BENCH_STEPS", 200))
TRAIN = """
import sys, time, torch
from torch import nn
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
X, y = torch.rand(64, 784), torch.randint(0, 10, (64,))
start = time.perf_counter()
for _ in range(int(sys.argv[2])):
    loss = nn.functional.cross_entropy(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(time.perf_counter() - start)
"""
MEASURED: dict[str, dict] = {}


def test_simulated_plan_for_8_workers_on_16_cores(benchmark):
    """SIMULATION: no 16-core machine is used; the grader's planning functions are given 16 cores."""
    cores = 16

    def plan():
        return {workers: threads.plan("auto", cores, workers) for workers in (1, 2, 4, 8, 16)}

    by_workers = benchmark.pedantic(plan, rounds=1, iterations=1)
    lines = [f"SIMULATION, pretend {cores}-core machine: pa3 batch --workers N",
             f"{'workers':>7} {'threads each (rule)':>20} {'threads in all':>15} {'torch default in all':>21}"]
    for workers, each in by_workers.items():
        lines.append(f"{workers:>7} {each:>20} {each * workers:>15} {cores * workers:>21}")
    env = threads.environment(by_workers[8])
    lines.append(f"each of the 8 workers' kernels gets: {env} and torch.set_num_threads({by_workers[8]}) "
                 "in the set-up cell")
    workers = {f"tcp://{host}:{port}": {"host": host, "nthreads": 4} for host in ("a", "b") for port in (1, 2)}
    cluster = dask_plan("auto", workers, dict.fromkeys(workers, cores))
    lines.append(f"SIMULATION, Dask: two {cores}-core machines, each with 2 workers of 4 tasks: {cluster}")
    assert by_workers[8] == 2 and all(n == 2 for n in cluster.values())
    benchmark.extra_info["plan"] = lines
    print("\n" + "\n".join(lines))


def _group(processes: int, threads_each: int) -> dict:
    """``processes`` training processes at once, each with ``threads_each`` threads; wall and CPU of the group."""
    env = dict(os.environ, **{name: str(threads_each) for name in threads.ENV_VARS})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN, str(threads_each), str(STEPS)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    loops = [float(p.communicate()[0]) for p in procs]  # each process's training loop alone (no import)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert all(p.returncode == 0 for p in procs)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "training_s": round(max(loops), 2), "cpu_s": round(cpu, 2)}


@pytest.mark.parametrize("name, processes, each", [
    ("one alone, every core", 1, None),
    ("2 at once, rule (cores // 2)", 2, "rule"),
    ("2 at once, torch default here", 2, None),
    ("2 at once x 8 threads (8x, as 8 x 16 on 16 cores)", 2, 8),
])
def test_measured_oversubscription_scaled_down(benchmark, name, processes, each):
    """MEASUREMENT on this machine (scaled down): same training steps per process, different thread counts."""
    cores = threads.cores()
    threads_each = cores if each is None else threads.budget(cores, processes) if each == "rule" else each
    figures = {}
    benchmark.group = f"thread rule, scaled down to {cores} cores ({STEPS} steps per process)"
    benchmark.pedantic(lambda: figures.update(_group(processes, threads_each)), rounds=1, iterations=1)
    figures.update(processes=processes, threads_each=threads_each, oversubscription=processes * threads_each / cores)
    MEASURED[name] = figures
    benchmark.extra_info.update(figures)
    print(f"\nMEASURED here, {name}: {figures}")
    if len(MEASURED) == 4:
        alone = MEASURED["one alone, every core"]["training_s"]
        print(f"\nMEASURED on this {cores}-core machine, {STEPS} steps of a 784-512-256-10 MLP per process "
              f"(ideal training time for 2 at once: about {2 * alone:.1f} s, twice one alone)")
        for label, f in MEASURED.items():
            print(f"  {label:<50} {f['processes']} x {f['threads_each']:>2} threads: "
                  f"training {f['training_s']:>7.2f} s "
                  f"(slowest process), {f['wall_s']:>7.2f} s wall with imports, {f['cpu_s']:>7.2f} CPU-s")
