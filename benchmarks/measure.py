"""Wall time, CPU seconds and peak memory summed over a command's whole process tree."""

from __future__ import annotations

import subprocess
import threading
import time

import psutil


def run_measured(argv: list[str], **kwargs) -> dict:
    """Run ``argv``; sample RSS and CPU time of it and all its descendants every 20 ms.

    CPU is summed per process from the samples: a sandboxed kernel is killed, not waited for, so
    getrusage(RUSAGE_CHILDREN) would never see its CPU time.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    peak = [0]
    cpu_by_process: dict[tuple[int, float], float] = {}

    def sample():
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                rss = 0
                for p in tree:
                    try:
                        with p.oneshot():
                            rss += p.memory_info().rss
                            times = p.cpu_times()
                            cpu_by_process[(p.pid, p.create_time())] = times.user + times.system
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0].decode(errors="replace")
    sampler.join()
    cpu = sum(cpu_by_process.values())
    return {"wall_s": time.perf_counter() - start, "cpu_s": cpu, "peak_mb": peak[0] / 2**20,
            "returncode": proc.returncode, "output": output}
