"""40 NumPy-only gradings with 1 and 2 local workers (goal: 2 workers >= 1.8x faster)."""

from __future__ import annotations

import time

import pytest

from grader.batch.run import run_batch
from grader.options import BatchOptions, GradeOptions
from tests import corpus

RESULTS: dict[int, float] = {}


@pytest.fixture(scope="module")
def forty(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forty")
    for i in range(40):
        corpus.build(folder / f"student{i:02d}")
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_forty_numpy_gradings(benchmark, forty, tmp_path, workers):
    def batch():
        start = time.perf_counter()
        outcome = run_batch(forty, tmp_path / f"out{time.perf_counter_ns()}", workers=workers,
                            options=BatchOptions(GradeOptions(notebook=False), timeout=300), show_progress=False)
        assert outcome.graded_now == 40
        return time.perf_counter() - start

    benchmark.group = "pa3 batch: 40 NumPy-only gradings"
    RESULTS[workers] = benchmark.pedantic(batch, rounds=2, iterations=1)
    benchmark.extra_info["seconds"] = RESULTS[workers]
    if len(RESULTS) == 2:
        print(f"\n1 worker: {RESULTS[1]:.1f} s, 2 workers: {RESULTS[2]:.1f} s, speed-up {RESULTS[1] / RESULTS[2]:.2f}x")
