"""One unprivileged uid per grading process, so that concurrent submissions never share one.

When the grader runs as root it drops sandboxed code to a uid of its own, leased from a range
(``PA3_SANDBOX_UIDS``, default 60000-60255) by holding an exclusive ``flock`` on a lock file
per uid in a root-only folder. The kernel releases the lock when the grader exits however it
exits (even SIGKILL), so a crashed grader never strands its uid. Sharing no uid, a submission
cannot signal (``kill(-1)``), ptrace or read the private files of another one; its processes
and the files it left in the shared temporary folders are found by uid and removed: when the
uid is leased (what a killed grader left) and when a grading ends (``sweep``).

Graders in containers lease from lock folders of their own, but share the kernel's uids with the host:
seen from the host, a container's sandboxed processes have the same numbers. A uid with processes in a
PID namespace that is neither this grader's nor below it is another domain's: never leased, and never
reached by a sweep (a host grader's sweep once killed a container's notebook kernel mid-training).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from grader.fstree import remove_tree
from grader.sandbox import hostcaps

DEFAULT_RANGE = "60000-60255"
LOCK_DIRS = (Path("/run/pa3-sandbox-uids"), Path("/var/lock/pa3-sandbox-uids"), Path("/tmp/pa3-sandbox-uids"))
SHARED_TMP = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"), Path("/var/lock"))
SCAN_LIMIT = 20_000   # entries looked at in the shared folders, per sweep
SCAN_DEPTH = 3        # world-writable folders inside them are looked into, this deep

_lease: tuple[int, int] | None = None  # (uid, lock fd) held by this process


class NoUid(RuntimeError):
    """No uid of the range could be leased; the message says why."""


def uid_range() -> range:
    """The uids sandboxes may use: PA3_SANDBOX_UIDS as FIRST-LAST (inclusive)."""
    text = os.environ.get("PA3_SANDBOX_UIDS", DEFAULT_RANGE)
    try:
        first, last = (int(part) for part in text.split("-", 1))
    except ValueError:
        raise NoUid(f"PA3_SANDBOX_UIDS={text!r} is not a range like {DEFAULT_RANGE}") from None
    if not 1000 <= first <= last < 2**31 - 1:
        raise NoUid(f"PA3_SANDBOX_UIDS={text!r}: expected unprivileged uids, 1000 <= FIRST <= LAST")
    return range(first, last + 1)


def _lock_dir() -> Path:
    """A folder only root can write to (a sandbox uid must never hold or fake a lease)."""
    problems = []
    for folder in LOCK_DIRS:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(folder)
        except OSError as exc:
            problems.append(f"{folder}: {exc.strerror}")
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == hostcaps.euid() and not info.st_mode & 0o022:
            return folder
        problems.append(f"{folder}: not a folder owned by uid {hostcaps.euid()} and closed to others")
    raise NoUid("no safe folder for the uid locks (" + "; ".join(problems) + ")")


def _held(folder: Path, uid: int) -> int | None:
    """An fd holding ``uid``'s lock, or None when a live grader holds it."""
    fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        import fcntl  # POSIX only, like uid leasing itself (never reached on Windows)

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def reclaim_free() -> list[int]:
    """Sweep the uids of the range that no live grader holds but that still run something or own
    files in the shared temporary folders (left by graders killed from outside, e.g. by a batch timeout)."""
    if hostcaps.euid() != 0:
        return []
    span = uid_range()
    stranded = set()
    for pid in Path("/proc").iterdir():
        try:
            stranded.add(Path(f"/proc/{pid.name}").stat().st_uid if pid.name.isdigit() else -1)
        except OSError:
            continue
    stranded = {uid for uid in stranded if uid in span}
    folder = _lock_dir()
    swept = []
    for uid in sorted(stranded | {u for u in _file_owners() if u in span}):
        if _lease is not None and uid == _lease[0]:
            continue
        fd = _held(folder, uid)
        if fd is None:
            continue
        try:
            sweep(uid)
            swept.append(uid)
        finally:
            os.close(fd)
    return swept


def _file_owners() -> set[int]:
    owners = set()
    for root in SHARED_TMP:
        try:
            with os.scandir(root) as entries:
                for entry in entries:
                    try:
                        owners.add(entry.stat(follow_symlinks=False).st_uid)
                    except OSError:
                        pass
        except OSError:
            pass
    return owners


def lease() -> int:
    """This process's sandbox uid, leased on first use and held until the process exits."""
    global _lease
    if _lease is not None:
        return _lease[0]
    folder = _lock_dir()
    for uid in uid_range():
        try:
            import pwd  # POSIX only

            pwd.getpwuid(uid)
            continue  # a real account: never borrow it
        except KeyError:
            pass
        fd = _held(folder, uid)
        if fd is None:
            continue
        if foreign_processes(uid):  # a container's grader uses this number (its locks are not ours to see)
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _lease = (uid, fd)
        sweep(uid)  # whatever a killed grader that held it left behind
        return uid
    raise NoUid(f"every uid of {uid_range().start}-{uid_range().stop - 1} is in use by another grader "
                f"(widen PA3_SANDBOX_UIDS)")


def _pid_namespace(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def foreign_processes(uid: int) -> list[int]:
    """Processes of ``uid`` that belong to another grader's domain: in a PID namespace that is not this
    grader's and not below it (a container's, seen from the host, whose graders lease the same numbers from
    a lock folder of their own). This grader's own sandboxes in namespaces of their own (bwrap) descend
    from it and are not foreign."""
    ours = _pid_namespace("self")
    pids = processes_of(uid)
    if not pids or ours is None:
        return []
    from grader.sandbox import proctree

    mine = proctree.descendants(os.getpid())
    return [pid for pid in pids if pid not in mine and _pid_namespace(pid) not in (ours, None)]


def processes_of(uid: int) -> list[int]:
    """Live processes whose real, effective or saved uid is ``uid`` (zombies are dead: not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if str(uid) in fields.get("Uid", "").split()[:3] and not fields.get("State", "").strip().startswith(("Z", "X")):
            found.append(int(entry.name))
    return found


def kill_all(uid: int, timeout: float = 10.0) -> bool:
    """SIGKILL every process of ``uid``; True when none is left.

    ``kill(-1)`` sent as that uid reaches exactly its processes, all at once (the kernel walks the
    task list under a lock, so a fork cannot slip through), in any PID namespace.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        foreign = set(foreign_processes(uid))
        pids = [pid for pid in processes_of(uid) if pid not in foreign]
        if not pids:
            return True
        if foreign:  # kill(-1) would reach them too: one by one, ours only
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
            continue
        try:
            subprocess.run([sys.executable, "-I", "-S", "-c",
                            "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"],
                           user=uid, group=uid, extra_groups=[], env={}, cwd="/", timeout=10,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            for pid in pids:  # the helper could not start: one by one, until none is left
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for pid in pids:  # orphans re-parented to this grader (a subreaper): collect them, or they stay zombies
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.02)
    return not set(processes_of(uid)) - set(foreign_processes(uid))


def files_of(uid: int, roots: tuple[Path, ...] = SHARED_TMP) -> list[Path]:
    """Entries owned by ``uid`` in the shared temporary folders (and the world-writable folders in them)."""
    found, seen = [], 0
    todo = [(root, 0) for root in dict.fromkeys(r.resolve() for r in roots if r.is_dir())]
    while todo:
        folder, depth = todo.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if seen > SCAN_LIMIT:
                        return found
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if info.st_uid == uid:
                        found.append(Path(entry.path))
                    elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002 and depth < SCAN_DEPTH:
                        todo.append((Path(entry.path), depth + 1))
        except OSError:
            continue
    return found


IPC_KINDS = {"shm": ("shmid", "-m"), "sem": ("semid", "-s"), "msg": ("msqid", "-q")}


def ipc_of(uid: int) -> list[tuple[str, str]]:
    """System V shared memory, semaphores and message queues owned or created by ``uid`` (they outlive
    their processes; at the user level they live in the machine's one IPC namespace)."""
    found = []
    for kind, (id_column, flag) in IPC_KINDS.items():
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(header, line.split()))
            if str(uid) in (row.get("uid"), row.get("cuid")):
                found.append((flag, row[id_column]))
    return found


def sweep(uid: int) -> dict:
    """Kill what ``uid`` still runs and remove what it left in the shared temporary folders and IPC."""
    killed = kill_all(uid)
    leftovers = files_of(uid)
    removed = sum(remove_tree(path) for path in leftovers)
    for flag, ident in ipc_of(uid):
        try:
            subprocess.run(["ipcrm", flag, ident], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            pass  # counted below as left
    return {"processes_left": not killed, "files_removed": removed, "files_left": len(leftovers) - removed,
            "ipc_left": len(ipc_of(uid))}
