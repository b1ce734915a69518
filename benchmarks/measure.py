"""Wall time, CPU seconds and peak memory summed over a command's whole process tree."""

from __future__ import annotations

import subprocess
import time

from grader.batch.usage import TreeUsage


def run_measured(argv: list[str], **kwargs) -> dict:
    """Run ``argv``; sample RSS and CPU time of it and all its descendants every 20 ms.

    CPU is summed per process from the samples: a sandboxed kernel is killed, not waited for, so
    getrusage(RUSAGE_CHILDREN) would never see its CPU time.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    with TreeUsage(proc.pid, interval=0.02) as usage:
        output = proc.communicate()[0].decode(errors="replace")
    return {"wall_s": time.perf_counter() - start, "cpu_s": usage.cpu_seconds, "peak_mb": usage.peak_rss / 2**20,
            "returncode": proc.returncode, "output": output}
