"""The thread budget of a grading: max(1, cores // gradings at once).

A notebook kernel left to itself starts one torch (OpenMP, BLAS) thread per core; eight gradings on a
16-core machine would then run 128 training threads on 16 cores and thrash. With a budget, the kernel
(through the environment and ``torch.set_num_threads`` before the student's first cell) and the
evaluator stay within their share. ``pa3 grade`` alone has no budget: torch's own default, every core.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# Every thread pool a notebook may start through the libraries it imports.
ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
BUDGET_VAR = "PA3_THREADS"  # read by the kernel's set-up cell
NUMPY_WORKER_THREADS = 1    # the NumPy worker's arrays are tiny: one BLAS thread, within any budget


def _cgroup_quota() -> float | None:
    """CPUs allowed by a cgroup v2 quota on this process's cgroup or its parents (Docker --cpus), or None."""
    try:
        line = next(row for row in Path("/proc/self/cgroup").read_text().splitlines() if row.startswith("0::"))
    except (OSError, StopIteration):
        return None
    folder, quotas = Path("/sys/fs/cgroup") / line[3:].lstrip("/"), []
    while True:
        try:
            limit, period = (folder / "cpu.max").read_text().split()
            if limit != "max":
                quotas.append(int(limit) / int(period))
        except (OSError, ValueError):
            pass
        if folder == Path("/sys/fs/cgroup") or folder.parent == folder:
            break
        folder = folder.parent
    return min(quotas) if quotas else None


def cores() -> int:
    """CPUs this process may run on: its affinity mask, lowered by a cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        count = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        count = min(count, max(1, math.floor(quota)))
    return max(1, count)


def budget(cores: int, concurrent: int) -> int:
    """Threads for each of ``concurrent`` gradings sharing ``cores``."""
    return max(1, cores // max(1, concurrent))


def plan(setting: str | int | None, cores: int, concurrent: int) -> int | None:
    """A grading's budget from ``pa3 batch --threads``: "auto" (or None) the rule above, "all" none
    (torch's default: every core, the old behaviour), a number that many threads."""
    if setting in (None, "auto"):
        return budget(cores, concurrent)
    if setting == "all":
        return None
    if str(setting).isdigit() and int(setting) >= 1:
        return int(setting)
    raise ValueError(f"--threads must be auto, all or a positive number, not {setting!r}")


def environment(threads: int | None) -> dict[str, str]:
    """Environment variables that hold a process (and what it imports) to ``threads``; none for no budget."""
    if threads is None:
        return {}
    return {name: str(threads) for name in ENV_VARS} | {BUDGET_VAR: str(threads)}


def record(threads: int | None) -> dict:
    """What the results record about threads."""
    here = cores()
    return {"budget": threads, "cores": here, "notebook": threads if threads is not None else f"torch default ({here})",
            "numpy_worker": NUMPY_WORKER_THREADS}


# The student's own torch.set_num_threads still takes effect, capped at the budget.
_KERNEL_CELL = '''
def _pa3_thread_budget():
    import functools, os
    budget = os.environ.get("{var}", "")
    if not budget.isdigit() or int(budget) < 1:
        return
    import torch
    budget = int(budget)
    torch.set_num_threads(budget)

    @functools.wraps(torch.set_num_threads)
    def set_num_threads(n, _set=torch.set_num_threads, _budget=budget):
        _set(min(n, _budget) if isinstance(n, int) and n >= 1 else n)

    torch.set_num_threads = set_num_threads

_pa3_thread_budget()
del _pa3_thread_budget
'''


def kernel_cell_source() -> str:
    """Python for the kernel's set-up cell: torch.set_num_threads(budget) when the kernel has one."""
    return _KERNEL_CELL.format(var=BUDGET_VAR)
