"""What a call left running in the worker: anything that could still reach the grader's pipes.

The worker serves one call at a time, in one thread. A thread the student's code started, or a process
it left (which holds the pipes if forked, or can open them again through /proc if exec'd), can write into
them later, out of turn, or read the next request; when and whether that happens depends on the machine's
speed and load, and so would the verdict, and the call it hurts would be a later one, another member's.
So after every reply the grader compares what runs now with what ran when the worker came up
(``snapshot``, ``left_running``) and ends a worker that kept more, charging the call that just returned.

Linux only (``/proc``); elsewhere ``snapshot`` is None and nothing is compared.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.sandbox.process import SandboxedProcess

Snapshot = dict  # {pid: live threads} of every live process of one worker


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, threads) of ``pid``, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[17])


def _cgroup_pids(process: SandboxedProcess) -> list[int] | None:
    """Every process in the worker's pids (or memory) cgroup: even ones that left its tree."""
    for group in (process.cgroup, process.memcg):
        if group is None:
            continue
        try:
            return [int(p) for p in (Path(group.path) / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            continue
    return None


def _children(pid: int) -> list[int] | None:
    """``pid``'s children from /proc/PID/task/*/children; None where the kernel has no such files."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found += [int(p) for p in f.read().split()]
        except FileNotFoundError:
            if os.path.exists(f"/proc/{pid}/task/{tid}"):
                return None  # the task is there, its children file is not: no CONFIG_PROC_CHILDREN
        except (OSError, ValueError):
            continue
    return found


def _parents() -> dict[int, list[int]]:
    """{parent pid: [child pids]} of every process in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None:
            children.setdefault(stat[0], []).append(int(name))
    return children


def _tree_pids(process: SandboxedProcess) -> list[int]:
    """The worker, its descendants and the orphans they left to this (subreaper) grader, as the kill sees them."""
    me = os.getpid()
    table: dict[int, list[int]] | None = None

    def children(pid: int) -> list[int]:
        nonlocal table
        if table is None:
            found = _children(pid)
            if found is not None:
                return found
            table = _parents()
        return table.get(pid, [])

    roots = [process.pid] + [p for p in children(me) if p != process.pid and p not in process.spare]
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo += children(pid)
    return sorted(seen)


def snapshot(process: SandboxedProcess | None) -> Snapshot | None:
    """{pid: threads} of every live process of the worker now; None where this cannot be seen (no /proc)."""
    if process is None or process.pid is None or not os.path.isdir("/proc/self"):
        return None
    pids = _cgroup_pids(process)
    if pids is None:
        pids = _tree_pids(process)
    seen = {}
    for pid in pids:
        stat = _stat(pid)
        if stat is not None and stat[1] not in ("Z", "X"):  # a zombie has no threads and no open pipes
            seen[pid] = stat[2]
    return seen


def left_running(before: Snapshot, now: Snapshot) -> int:
    """Threads and processes in ``now`` beyond ``before``: the extra threads of the worker's own processes,
    and every thread of a process that was not there before."""
    return sum(threads - before.get(pid, 0) for pid, threads in now.items() if threads > before.get(pid, 0))
