"""Resource limits of a sandboxed worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    """Per-worker limits; the worker applies the rlimits to itself before importing student code."""

    address_space: int = 2 << 30      # bytes of virtual memory
    cpu_seconds: int = 120            # CPU time over the worker's life
    file_size: int = 16 << 20         # largest file it may write
    processes: int = 64               # tasks (pids cgroup where available; RLIMIT_NPROC for a dropped uid)
    open_files: int = 256
    output_bytes: int = 64 << 10      # stdout/stderr kept per stream; the rest is drained and dropped
    reply_bytes: int = 32 << 20       # array bytes the grader accepts from the worker in one test (honest: < 64 KiB)
    tmp_bytes: int = 64 << 20         # size of the worker's /tmp (a tmpfs under bwrap)
    shm_bytes: int = 64 << 20         # size of its /dev/shm (a tmpfs under bwrap)
    work_bytes: int = 64 << 20        # what it may add to its working copy (and private tmp at other levels)
    work_files: int = 2000            # entries it may add there
    memory: int = 0                   # the memory cgroup's limit; 0: derived (memory_bytes)

    @property
    def memory_bytes(self) -> int:
        """The memory cgroup's limit: ``memory`` when set, else its address space plus every tmpfs it can fill,
        and some page cache."""
        if self.memory:
            return self.memory
        return self.address_space + self.tmp_bytes + self.shm_bytes + self.work_bytes + (128 << 20)

    def rlimits(self) -> dict:
        """The names the worker understands (see runtime/worker.py)."""
        return {"as": self.address_space, "cpu": self.cpu_seconds, "fsize": self.file_size,
                "nproc": self.processes, "core": 0, "nofile": self.open_files}

    def as_dict(self) -> dict:
        return asdict(self)
