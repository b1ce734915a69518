"""Where grade_one runs: a local pool of grading processes, or a Dask distributed cluster.

Each plans the thread budget of its gradings (grader/threads.py): cores // gradings at once on a machine.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Iterable, Iterator

from grader import threads
from grader.batch.inputs import Submission
from grader.batch.task import grade_one, kill_running, pack_submission
from grader.options import BatchOptions


class LocalPool:
    """``workers`` grading processes at a time on this machine (each grading is its own process)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.cores = threads.cores()
        self.description = f"local pool of {self.workers} grading processes"

    def run(self, submissions: Iterable[Submission], options: BatchOptions) -> Iterator[tuple[Submission, dict]]:
        grading = replace(options.grade, threads=threads.plan(options.threads, self.cores, self.workers))
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            futures = {pool.submit(grade_one, str(s.path), grading, options.timeout): s  # same machine: no packing
                       for s in submissions}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            kill_running()


def grade_on_worker(payload: bytes, options: BatchOptions, plan: dict[str, int | None],
                    name: str = "submission.zip") -> dict:
    """grade_one on a Dask worker, with its budget from the plan, or (a worker that joined later) from
    its own cores and the tasks it runs at once."""
    from dask.distributed import get_worker

    worker = get_worker()
    if worker.address in plan:
        budget = plan[worker.address]
    else:
        budget = threads.plan(options.threads, threads.cores(), getattr(worker, "state", worker).nthreads)
    return grade_one(payload, replace(options.grade, threads=budget), options.timeout, name)


def dask_plan(setting, workers: dict[str, dict], cores: dict[str, int]) -> dict[str, int | None]:
    """{worker address: budget}: a machine's cores shared by every task its workers run at once.

    ``workers``: the scheduler's view ({address: {"host", "nthreads", ...}}); ``cores``: {address: cores}.
    """
    tasks_on_host = Counter()
    for info in workers.values():
        tasks_on_host[info["host"]] += info["nthreads"]
    return {address: threads.plan(setting, cores.get(address, 1), tasks_on_host[info["host"]])
            for address, info in workers.items()}


class DaskCluster:
    """An existing Dask distributed scheduler (``tcp://host:8786``); the grader must be installed on its workers."""

    def __init__(self, scheduler: str) -> None:
        from dask.distributed import Client

        self.client = Client(scheduler, timeout="30s")
        self.description = f"Dask cluster at {scheduler} ({len(self.client.scheduler_info()['workers'])} workers)"

    def plan(self, setting) -> dict[str, int | None]:
        return dask_plan(setting, self.client.scheduler_info()["workers"], self.client.run(threads.cores))

    def run(self, submissions: Iterable[Submission], options: BatchOptions) -> Iterator[tuple[Submission, dict]]:
        from dask.distributed import as_completed

        plan = self.plan(options.threads)
        by_key = {}
        for s in submissions:
            name = s.path.name if s.path.is_file() else f"{s.path.name}.zip"
            future = self.client.submit(grade_on_worker, pack_submission(s.path), options, plan, name, pure=False,
                                        key=f"pa3-{s.id}")
            by_key[future.key] = (future, s)
        try:
            for future in as_completed([f for f, _ in by_key.values()]):
                yield by_key[future.key][1], future.result()
        finally:
            for future, _ in by_key.values():
                future.cancel()
            self.client.close()
