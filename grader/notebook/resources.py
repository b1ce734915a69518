"""What the notebook kernel may use, and, when it dies, why: the notebook's doing or the grader's setting.

The kernel gets a memory cgroup over its whole process tree where one can be made. Its limit is 6 GiB, or
less where the container (Docker's --memory, Gradescope's envelope) or the machine has less, keeping
GRADER_RESERVE for the grader itself. A death is explained from facts, never guessed from the notebook:
the cgroups' counters (the kernel's own and the container's), the kernel's exit status, /dev/shm's size.
Where the reference solution would have died the same way, the setting is to blame and the message says
which one to raise.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import memcg

KERNEL_MEMORY_MAX = 6 << 30
GRADER_RESERVE = 384 << 20   # the grading process and its copy of the data while the kernel runs
# The reference notebook at the real size (60,000/10,000 images), measured (README, "Section 2 at the real
# size"): its kernel's memory cgroup peaked at 836 MB (page cache included) on the host; a container running
# the whole grading peaked at 990 to 1,070 MB (two runs). Below these, no notebook can be blamed for running out.
REFERENCE_PEAK = 900 << 20
CONTAINER_PEAK = 1100 << 20
SHM_NEEDED = 256 << 20       # a /dev/shm smaller than this (Docker's default is 64 MB) is the setting's fault
MB = 1 << 20


def meminfo_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def container_limit() -> int | None:
    """The memory limit of the cgroup the grader runs in (the container's), or None."""
    return memcg.limit_of(memcg.own_cgroup())


def kernel_memory() -> int:
    """The kernel's memory limit: KERNEL_MEMORY_MAX, or what the container or the machine leaves after the
    grader's reserve."""
    limits = [KERNEL_MEMORY_MAX]
    for total in (container_limit(), meminfo_total()):
        if total:
            limits.append(total - GRADER_RESERVE)
    return max(256 * MB, min(limits))


def shm_size(path: str = "/dev/shm") -> tuple[int, int] | None:
    """(total, free) bytes of the shared-memory file system, or None."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    return info.f_blocks * info.f_frsize, info.f_bavail * info.f_frsize


@dataclass
class Facts:
    """What is known when the kernel died; every field may be missing."""

    exit_code: int | None = None          # as Popen reports it: negative for a signal
    kernel_limit: int | None = None       # its memory cgroup's limit (None: no cgroup could be made)
    kernel_events: dict = field(default_factory=dict)     # the kernel cgroup's memory events
    container_limit: int | None = None
    container_kills: int = 0              # the container's oom_kill count rose by this while the kernel ran
    process_limit: int | None = None
    process_limit_hit: bool = False
    shm: tuple[int, int] | None = None    # /dev/shm as the kernel saw it (total, free); None under bwrap's own
    over_budget: str | None = None        # the grader stopped it (disk budget), with its message


@dataclass
class Death:
    cause: str                    # for the student and the TA
    environment: str | None = None  # the setting to raise when the grader's environment, not the notebook, is to blame


def explain(facts: Facts) -> Death:
    """Why the kernel died, from ``facts``."""
    if facts.over_budget:
        return Death(facts.over_budget)
    code = facts.exit_code
    if code is not None and code > 128:  # bwrap (and sh) report a signalled child as 128 + signal
        code = -(code - 128)
    if facts.kernel_events.get("oom_kill"):
        limit = facts.kernel_limit or 0
        cause = f"killed for memory: the notebook's processes used more than {limit // MB} MB, the grader's limit"
        if limit < REFERENCE_PEAK:
            where = (f"the container's {facts.container_limit // MB} MB" if facts.container_limit
                     else "this machine's memory")
            return Death(cause, f"memory: the kernel may use {limit // MB} MB ({where} less the grader's "
                                f"{GRADER_RESERVE // MB} MB); the reference notebook needs about "
                                f"{REFERENCE_PEAK // MB} MB: give the container at least "
                                f"{(REFERENCE_PEAK + GRADER_RESERVE) // MB + 1} MB (docker run --memory)")
        return Death(cause + " (hint: smaller batches, fewer copies of the data set, no list of every batch's "
                             "tensors)")
    if facts.container_kills:
        limit = facts.container_limit
        cause = ("killed for memory by the container's limit" + (f" ({limit // MB} MB)" if limit else ""))
        if limit is None or limit < CONTAINER_PEAK:
            return Death(cause, f"memory: the container's limit is below the {CONTAINER_PEAK // MB} MB the "
                                f"reference notebook and the grader need together at the real size: raise "
                                f"docker run --memory (or Gradescope's memory setting) to at least that")
        return Death(cause)
    if code == -signal.SIGBUS or (facts.shm is not None and facts.shm[1] < MB):
        total = facts.shm[0] if facts.shm else None
        cause = ("/dev/shm (shared memory) ran out" + (f" ({total // MB} MB)" if total is not None else "")
                 + ": PyTorch's DataLoader workers (num_workers > 0) pass batches through it")
        if total is not None and total < SHM_NEEDED:
            return Death(cause, f"/dev/shm: it is {total // MB} MB (Docker's default is 64 MB): run the container "
                                f"with --shm-size={SHM_NEEDED // MB}m or more")
        return Death(cause + " (hint: num_workers=0 needs none)")
    if facts.process_limit_hit:
        return Death(f"it reached the process limit ({facts.process_limit} processes and threads): "
                     "DataLoader workers or threads started in a loop")
    if code is None:
        return Death("the kernel stopped answering")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        what = {"SIGKILL": "killed (SIGKILL) with no memory or process limit reached: os.kill, or the machine",
                "SIGSEGV": "crashed in native code (SIGSEGV)", "SIGABRT": "aborted in native code (SIGABRT): "
                "often an allocation that failed (the kernel may map at most its address-space limit)",
                "SIGXCPU": "stopped: CPU time limit exceeded", "SIGXFSZ": "stopped: it wrote too large a file"}
        return Death(what.get(name, f"ended by {name}"))
    return Death(f"the kernel exited with code {code} (os._exit, sys.exit or exit() in a cell)")
