"""CPU seconds and peak memory of a process and everything it starts, sampled from a thread.

A sandboxed kernel is killed rather than waited for, so its CPU time never reaches the grader's
RUSAGE_CHILDREN; sampling every process of the tree sees it. A process that ends between two
samples loses at most one interval of its CPU time.
"""

from __future__ import annotations

import threading

import psutil

INTERVAL = 0.25  # seconds; one sample reads /proc once per process of the machine (a few ms)


class TreeUsage:
    """``with TreeUsage(pid) as usage: ...``; then ``usage.cpu_seconds`` and ``usage.peak_rss``."""

    def __init__(self, pid: int, interval: float = INTERVAL) -> None:
        self.pid, self.interval = pid, interval
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> user + system seconds
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def __enter__(self) -> "TreeUsage":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> bool:
        """One look at the tree; False once its root has ended."""
        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return False
        rss = 0
        for process in tree:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss += process.memory_info().rss
                    # Own time only: children_* would count reaped descendants a second time.
                    self._cpu[(process.pid, process.create_time())] = times.user + times.system
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        try:
            return root.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _run(self) -> None:
        while self.sample() and not self._stop.wait(self.interval):
            pass
