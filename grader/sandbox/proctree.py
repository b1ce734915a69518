"""Find and kill every process a worker left behind, when no cgroup or PID namespace does it for us."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from grader.sandbox import hostcaps

PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper() -> None:
    """Orphans of our workers (double forks, setsid daemons) are re-parented to us, so we can find them."""
    global _subreaper
    if _subreaper or not Path("/proc/self").exists():
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        pass


def _table() -> dict[int, tuple[int, int]]:
    """{pid: (ppid, session id)} of every process we can see."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return table


def start_time(pid: int | str) -> str | None:
    """The process's start time in clock ticks since boot: with its pid, it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def owner_tag() -> str:
    """``<pid>-<start time>`` of this process, for names of things it must clean up (or a successor will)."""
    return f"{os.getpid()}-{start_time('self')}"


def tag_alive(pid: str, start: str) -> bool:
    return start_time(pid) == start


def descendants(root: int, table: dict[int, tuple[int, int]] | None = None) -> set[int]:
    table = table if table is not None else _table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def children() -> set[int]:
    """This process's children now: taken before a worker starts, so that sweeping orphans spares them."""
    if not Path("/proc").exists():
        return set()
    me = os.getpid()
    return {p for p, (ppid, _) in _table().items() if ppid == me}


def kill_tree(pid: int, session: int | None = None, spare: set[int] = frozenset()) -> None:
    """SIGKILL ``pid``, its descendants, its session, and orphans re-parented to us (except ``spare``)."""
    if not Path("/proc").exists():  # macOS, Windows: the group (or the process) is all we can name
        hostcaps.kill_group(pid)
        return
    me = os.getpid()
    for _ in range(5):  # repeat: a process may fork while we kill
        table = _table()
        victims = descendants(pid, table) | {pid}
        if session is not None:
            victims |= {p for p, (_, sid) in table.items() if sid == session}
        if _subreaper:
            for orphan in (p for p, (ppid, _) in table.items() if ppid == me and p not in spare):
                victims |= descendants(orphan, table) | {orphan}
        victims.discard(me)
        victims -= spare
        alive = [p for p in victims if p in table]
        if not alive:
            break
        for victim in alive:
            try:
                os.kill(victim, hostcaps.kill_signal())
            except (ProcessLookupError, PermissionError):
                pass
        reap(p for p in alive if table[p][0] == me and p != pid)


def reap(pids) -> None:
    """Collect our killed orphans (they would stay zombies); the worker itself is waited for by its Popen."""
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
