"""Where grade_one runs: a local pool of grading processes, or a Dask distributed cluster."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Iterable, Iterator

from grader.batch.inputs import Submission
from grader.batch.task import grade_one, kill_running, pack_submission


class LocalPool:
    """``workers`` grading processes at a time on this machine (each grading is its own process)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.description = f"local pool of {self.workers} grading processes"

    def run(self, submissions: Iterable[Submission], options: dict) -> Iterator[tuple[Submission, dict]]:
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            futures = {pool.submit(grade_one, str(s.path), options): s for s in submissions}  # same machine: no packing
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            kill_running()


class DaskCluster:
    """An existing Dask distributed scheduler (``tcp://host:8786``); the grader must be installed on its workers."""

    def __init__(self, scheduler: str) -> None:
        from dask.distributed import Client

        self.client = Client(scheduler, timeout="30s")
        self.description = f"Dask cluster at {scheduler} ({len(self.client.scheduler_info()['workers'])} workers)"

    def run(self, submissions: Iterable[Submission], options: dict) -> Iterator[tuple[Submission, dict]]:
        from dask.distributed import as_completed

        by_key = {}
        for s in submissions:
            name = s.path.name if s.path.is_file() else f"{s.path.name}.zip"
            future = self.client.submit(grade_one, pack_submission(s.path), options, name, pure=False, key=f"pa3-{s.id}")
            by_key[future.key] = (future, s)
        try:
            for future in as_completed([f for f, _ in by_key.values()]):
                yield by_key[future.key][1], future.result()
        finally:
            for future, _ in by_key.values():
                future.cancel()
            self.client.close()
