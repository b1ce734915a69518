"""A pids cgroup per worker (when running as root with a writable cgroup tree).

It caps the number of tasks, so a fork bomb cannot exhaust the machine, and it
lists every process the worker started, even ones that left its session or
process group, so all of them can be killed. Without it the grader falls back to
the PID namespace (bwrap) and to walking the process tree.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Callable

from grader.sandbox import hostcaps, proctree

V1_ROOT = Path("/sys/fs/cgroup/pids")
V2_ROOT = Path("/sys/fs/cgroup")


def _base() -> Path | None:
    if not hostcaps.is_root() or not os.path.isdir(V2_ROOT):
        return None
    if (V1_ROOT / "cgroup.procs").exists() and os.access(V1_ROOT, os.W_OK):
        return V1_ROOT
    controllers = V2_ROOT / "cgroup.subtree_control"
    if controllers.exists() and "pids" in controllers.read_text().split() and os.access(V2_ROOT, os.W_OK):
        return V2_ROOT
    return None


def available() -> bool:
    """Whether workers get a pids cgroup here (root and a writable cgroup tree)."""
    return _base() is not None


PREFIX = "pa3-worker-"
NAME = re.compile(r"^pa3-worker-(?P<pid>\d+)-(?P<start>\d+)-[0-9a-f]+$")
_swept: set[str] = set()  # the kinds (prefixes) of cgroup whose dead graders' leftovers this grader reclaimed


def reclaim_dead(base: Path, name: re.Pattern) -> list[str]:
    """Empty and remove the cgroups under ``base`` called ``name`` whose grader is gone (killed before it
    could clean up); return their names.

    Each cgroup is named after the grader that made it (pid and start time), so a live grader's cgroups are
    never touched, even one started by another user of the machine; names not ours are left alone.
    """
    try:
        candidates = [p for p in base.iterdir() if name.match(p.name)]
    except OSError:
        return []
    reclaimed = []
    for path in candidates:
        match = name.match(path.name)
        if proctree.tag_alive(match["pid"], match["start"]):
            continue
        empty_and_remove(path)
        if not path.exists():
            reclaimed.append(path.name)
    return reclaimed


def new_group(base: Path, prefix: str, name: re.Pattern, configure: Callable[[Path], None],
              owner_uid: int | None = None) -> Path | None:
    """A new cgroup under ``base`` named after this grader (``prefix``, its pid and start time, a random part,
    matching ``name``), set up by ``configure(path)`` and, with ``owner_uid``, joinable by that uid; None (and
    nothing left behind) when it cannot be made. The first of its kind in this grader first reclaims what
    killed graders left."""
    if prefix not in _swept:
        _swept.add(prefix)
        reclaim_dead(base, name)
    path = base / f"{prefix}{proctree.owner_tag()}-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
    except OSError:
        return None
    try:
        configure(path)
        if owner_uid is not None:  # a dropped uid may then move itself in
            os.chown(path / "cgroup.procs", owner_uid, -1)
    except OSError:
        empty_and_remove(path, 0)
        return None
    return path


def reclaim_stale(base: Path) -> list[str]:
    """Empty and remove the pids cgroups whose grader is gone."""
    return reclaim_dead(base, NAME)


class PidsCgroup:
    """Create with ``PidsCgroup.create(max_tasks)``; None when cgroups are not available."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_tasks: int, owner_uid: int | None = None) -> "PidsCgroup | None":
        base = _base()
        if base is None:
            return None
        path = new_group(base, PREFIX, NAME, lambda p: (p / "pids.max").write_text(str(max_tasks)), owner_uid)
        return None if path is None else cls(path)

    def join_prefix(self) -> list[str]:
        """Argv prefix that moves the process into this cgroup, then execs the rest."""
        return ["/bin/sh", "-c", f'echo $$ > "{self.path}/cgroup.procs" && exec "$@"', "pa3-cgroup-join"]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def limit_hit(self) -> bool:
        """Whether a fork or thread was refused at the limit (pids.events ``max``), where the kernel counts it."""
        try:
            for line in (self.path / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max" and value.strip().isdigit():
                    return int(value) > 0
        except OSError:
            pass
        return False

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL everything in the cgroup until it is empty, then remove it."""
        empty_and_remove(self.path, timeout)


def empty_and_remove(path: Path, timeout: float = 5.0) -> None:
    """SIGKILL every process in the cgroup at ``path`` until it is empty, then remove the cgroup
    (any controller: pids or memory, whose charges go with it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)  # tasks still exiting
