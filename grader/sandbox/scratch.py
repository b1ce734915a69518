"""What a worker wrote to disk: measured against its budget and removed, without recursion.

Under bwrap the worker's writable places (/tmp, /dev/shm, its working copy) are size-limited
tmpfs that vanish with it. At the ``user`` and ``process`` levels its working copy and private
temporary folder are host folders, and at ``user`` it can also write wherever the sandbox uid
may (/tmp, /var/tmp, /dev/shm...). These are measured after every call and cleared at the end.
Student trees may be arbitrarily deep, so nothing here recurses or builds long paths: a tree is
removed by moving every subfolder up to its top, one level at a time.
"""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

SHARED_ROOTS = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")


def measure(root: Path, cap: int, uid: int | None = None, since: float = 0.0) -> tuple[int, int]:
    """(bytes, entries) under ``root`` (not following links); with ``uid``, only what that uid made since
    ``since``. Stops at ``cap`` entries (the count then exceeds ``cap``)."""
    total = entries = 0
    todo = [str(root)]
    while todo and entries <= cap:
        folder = todo.pop()
        try:
            scan = list(os.scandir(folder))
        except OSError:
            continue
        for entry in scan:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            mine = uid is None or (info.st_uid == uid and info.st_ctime >= since)
            if mine:
                entries += 1
                total += info.st_blocks * 512 if stat.S_ISREG(info.st_mode) else 0
            if stat.S_ISDIR(info.st_mode) and (mine or info.st_mode & stat.S_IWOTH):
                todo.append(entry.path)
    return total, entries


def remove_tree(path: str | os.PathLike) -> None:
    """Remove ``path`` and everything under it, however deep, without recursion or long paths."""
    path = os.fspath(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    os.chmod(path, 0o700)
    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        pending = [None]  # None: the top folder itself
        while pending:
            name = pending.pop()
            if name is not None:
                os.chmod(name, 0o700, dir_fd=top)
            fd = top if name is None else os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            try:
                for entry in list(os.scandir(fd)):
                    if entry.is_dir(follow_symlinks=False):
                        if name is None:
                            pending.append(entry.name)
                        else:  # move it up to the top: no folder is ever more than one level down
                            moved = f".pa3-rm-{uuid.uuid4().hex}"
                            os.rename(entry.name, moved, src_dir_fd=fd, dst_dir_fd=top)
                            pending.append(moved)
                    else:
                        os.unlink(entry.name, dir_fd=fd)
            finally:
                if fd != top:
                    os.close(fd)
            if name is not None:
                os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)
    os.rmdir(path)


def remove_new(folder: Path, keep: set[str]) -> None:
    """Remove every entry of ``folder`` whose name is not in ``keep`` (what the worker added)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name not in keep:
            try:
                remove_tree(os.path.join(folder, name))
            except OSError:
                pass


def owned_entries(uid: int, since: float, roots=SHARED_ROOTS) -> list[str]:
    """Top-level entries that ``uid`` made since ``since`` in the shared writable folders (and in their
    world-writable subfolders, like /tmp/.X11-unix)."""
    found, folders = [], [r for r in roots if os.path.isdir(r)]
    for root in list(folders):
        try:
            for entry in os.scandir(root):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH and info.st_uid != uid:
                    folders.append(entry.path)
        except OSError:
            continue
    for folder in folders:
        try:
            for entry in os.scandir(folder):
                info = entry.stat(follow_symlinks=False)
                if info.st_uid == uid and info.st_ctime >= since:
                    found.append(entry.path)
        except OSError:
            continue
    return found


def remove_owned(uid: int, since: float) -> None:
    """Remove what ``uid`` left in the shared writable folders and its System V IPC objects."""
    for path in owned_entries(uid, since):
        try:
            remove_tree(path)
        except OSError:
            pass
    remove_ipc(uid)


def remove_ipc(uid: int) -> None:
    """System V shared memory, message queues and semaphores of ``uid`` outlive its processes."""
    for kind, flag in (("shm", "-m"), ("msg", "-q"), ("sem", "-s")):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        header = lines[0].split() if lines else []
        if "uid" not in header or ("shmid" not in header and "msqid" not in header and "semid" not in header):
            continue
        id_col = next(i for i, h in enumerate(header) if h in ("shmid", "msqid", "semid"))
        uid_col = header.index("uid")
        for line in lines[1:]:
            fields = line.split()
            if len(fields) > max(id_col, uid_col) and fields[uid_col] == str(uid):
                try:
                    subprocess.run(["ipcrm", flag, fields[id_col]], capture_output=True, timeout=10, check=False)
                except (OSError, subprocess.TimeoutExpired):
                    return
