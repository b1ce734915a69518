"""A memory cgroup per worker (when running as root with a writable memory controller).

RLIMIT_AS bounds what the worker maps, but not what it puts in tmpfs (/tmp, /dev/shm, its
working copy under bwrap) or SysV shared memory: those pages outlive any one mapping. A
memory cgroup charges all of them, page cache included, to the worker; past its limit the
kernel reclaims or kills inside the cgroup, never elsewhere. Without one, the equivalent is
RLIMIT_AS plus the tmpfs sizes (``Limits.tmp_bytes`` and friends).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from grader.sandbox import hostcaps
from grader.sandbox.cgroup import empty_and_remove, new_group, reclaim_dead

V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
PREFIX = "pa3-worker-mem-"
# Named after the grader that made it (pid and start time), like the pids cgroups, so that the next
# grader can tell a killed one's leftovers from a live one's.
NAME = re.compile(r"^pa3-worker-mem-(?P<pid>\d+)-(?P<start>\d+)-[0-9a-f]+$")


def reclaim_stale(base: Path) -> list[str]:
    """Empty and remove the memory cgroups whose grader is gone."""
    return reclaim_dead(base, NAME)


def _base() -> tuple[Path, str] | None:
    """(folder to create cgroups in, "v1" or "v2"), or None when no memory controller can be used."""
    if not hostcaps.is_root():
        return None
    if (V1_ROOT / "memory.limit_in_bytes").exists() and os.access(V1_ROOT, os.W_OK):
        return V1_ROOT, "v1"
    controllers = V2_ROOT / "cgroup.subtree_control"
    try:
        if "memory" in controllers.read_text().split() and os.access(V2_ROOT, os.W_OK):
            return V2_ROOT, "v2"
    except OSError:
        pass
    return None


def available() -> bool:
    return _base() is not None


class MemoryCgroup:
    """Create with ``MemoryCgroup.create(limit_bytes)``; None when a memory cgroup cannot be made here."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit

    @classmethod
    def create(cls, limit_bytes: int, owner_uid: int | None = None) -> "MemoryCgroup | None":
        found = _base()
        if found is None:
            return None
        base, version = found

        def limit(path: Path) -> None:  # and no swapping out of the limit either
            if version == "v1":
                (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
                if (path / "memory.memsw.limit_in_bytes").exists():
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
            else:
                (path / "memory.max").write_text(str(limit_bytes))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")

        path = new_group(base, PREFIX, NAME, limit, owner_uid)
        return None if path is None else cls(path, limit_bytes)

    def join_prefix(self) -> list[str]:
        """Argv prefix that moves the process into this cgroup, then execs the rest (composes with others)."""
        return ["/bin/sh", "-c", f'echo $$ > "{self.path}/cgroup.procs" && exec "$@"', "pa3-memcg-join"]

    def peak(self) -> int | None:
        """Most memory charged so far (bytes), where the kernel reports it."""
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            try:
                return int((self.path / name).read_text())
            except (OSError, ValueError):
                continue
        return None

    def events(self) -> dict[str, int]:
        """The kernel's counters of what the limit did (v2 memory.events, v1 memory.oom_control): ``oom_kill``
        is how many processes it killed. Read before ``kill_all``, which removes the cgroup."""
        return read_events(self.path)

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL everything in the cgroup until it is empty, then remove it (its charges go with it)."""
        empty_and_remove(self.path, timeout)


def read_events(path: Path) -> dict[str, int]:
    """``name value`` lines of memory.events (v2) or memory.oom_control (v1) under ``path``, as numbers."""
    found: dict[str, int] = {}
    for name in ("memory.events", "memory.oom_control"):
        try:
            lines = (Path(path) / name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                found[key] = int(value)
    return found


def own_cgroup() -> Path | None:
    """The memory cgroup this process runs in (the container's, under Docker), as a folder, where visible."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            root = V1_ROOT
        elif controllers == "" and line.startswith("0::"):
            root = V2_ROOT
        else:
            continue
        folder = root / path.lstrip("/")
        # Inside a cgroup namespace the path is "/" and the folder is the namespace's root.
        for candidate in (folder, root):
            if (candidate / "memory.events").exists() or (candidate / "memory.oom_control").exists():
                return candidate
    return None


def limit_of(folder: Path | None) -> int | None:
    """The memory limit (bytes) of the cgroup at ``folder``, or None when there is none."""
    if folder is None:
        return None
    for name in ("memory.max", "memory.limit_in_bytes"):
        try:
            text = (folder / name).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):  # v1 writes "no limit" as a huge page-aligned number
            return int(text)
        return None
    return None
