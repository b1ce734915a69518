"""Folder trees a student controls: walked, copied and removed without recursion and within bounds.

Everything goes through directory file descriptors (``dir_fd``), so neither the depth of a tree
nor the length of its paths (beyond PATH_MAX) can make an operation fail, and nothing is
followed through a symbolic link. No Python recursion: a tree thousands of levels deep costs
a loop, not the stack.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

NAME_MAX = 255          # bytes in one path component (ext4, xfs, tmpfs...)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a fifo opens without blocking
REMOVE_WINDOW = 64      # directories open at once while removing; deeper ones are moved up first


def shown(parts: tuple[str, ...] | str) -> str:
    """A path as a message may show it: quoted, with undecodable bytes and control characters escaped."""
    text = repr(parts if isinstance(parts, str) else "/".join(parts))
    return text if len(text) <= 120 else f"{text[:60]}...{text[-50:]}"


def decodable(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (os functions return them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Refusals:
    """Entries left out, grouped by reason, so that a million bad entries make a few lines, not a million."""

    EXAMPLES = 5

    def __init__(self) -> None:
        self.by_reason: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}

    def add(self, reason: str, parts: tuple[str, ...] | str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        examples = self.by_reason.setdefault(reason, [])
        if len(examples) < self.EXAMPLES:
            examples.append(shown(parts))

    def notes(self) -> list[str]:
        lines = []
        for reason, examples in self.by_reason.items():
            count = self.counts[reason]
            if count == 1:
                lines.append(f"refused {examples[0]}: {reason}")
            else:
                more = f" and {count - len(examples)} more" if count > len(examples) else ""
                lines.append(f"refused {count} entries ({reason}): {', '.join(examples)}{more}")
        return lines


@dataclass(frozen=True)
class Bounds:
    max_depth: int = 32            # folder levels below the top
    max_entries: int = 20_000      # directory entries looked at, junk included
    max_path: int = 1024           # bytes in a relative path we recreate


@dataclass
class Found:
    """A regular file met by ``walk``; ``dir_fd`` is valid until the walk moves on."""

    parts: tuple[str, ...]
    dir_fd: int
    name: str
    size: int


@dataclass
class WalkReport:
    refused: Refusals = field(default_factory=Refusals)
    truncated: bool = False        # the entry budget ran out before the walk finished


def walk(root: Path, bounds: Bounds, report: WalkReport, skip: Callable[[tuple[str, ...]], bool] = lambda p: False,
         wanted: tuple[str, ...] = ()) -> Iterator[Found]:
    """The regular files under ``root``, top folder first, depth-first below, never following a link.

    Symbolic links, special files (fifos, devices, sockets), undecodable or over-long names,
    folders deeper than ``bounds.max_depth`` and entries beyond ``bounds.max_entries`` are
    reported in ``report``, not yielded. When the budget runs out in a folder, the ``wanted``
    names are still looked up in it directly, so the files that matter are found in a huge folder.
    """
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        report.refused.add(f"cannot be opened ({exc.strerror})", str(root))
        return
    seen = 0
    stack: list[tuple[int, tuple[str, ...], list[str]]] = []  # (dir fd, its parts, subfolders still to visit)
    pending: list[tuple[int, tuple[str, ...]]] = [(top, ())]
    try:
        while pending or stack:
            if pending:
                fd, parts = pending.pop()
                files, folders = [], []
                listed: set[str] = set()
                complete = True
                try:
                    with os.scandir(fd) as entries:
                        for entry in entries:
                            if seen >= bounds.max_entries:
                                report.truncated, complete = True, False
                                break
                            seen += 1
                            listed.add(entry.name)
                            kind = _classify(entry.name, fd, parts, bounds, report, skip)
                            if kind == "file":
                                files.append(entry.name)
                            elif kind == "dir":
                                folders.append(entry.name)
                except OSError as exc:
                    report.refused.add(f"cannot be listed ({exc.strerror})", parts or ".")
                if not complete:  # the budget ran out here: look the wanted names up directly
                    for name in wanted:
                        if name not in listed and _classify(name, fd, parts, bounds, report, skip,
                                                            probe=True) == "file":
                            files.append(name)
                stack.append((fd, parts, sorted(folders, reverse=True)))  # before yielding: closed if the caller stops
                for name in sorted(set(files)):
                    try:
                        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    except OSError:
                        continue
                    yield Found(parts + (name,), fd, name, info.st_size)
                continue
            fd, parts, folders = stack[-1]
            if not folders:
                stack.pop()
                os.close(fd)
                continue
            name = folders.pop()
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                report.refused.add(f"cannot be opened ({exc.strerror})", parts + (name,))
                continue
            pending.append((child, parts + (name,)))
    finally:
        for fd, *_ in stack + pending:
            try:
                os.close(fd)
            except OSError:
                pass


def _classify(name: str, fd: int, parts: tuple[str, ...], bounds: Bounds, report: WalkReport,
              skip: Callable[[tuple[str, ...]], bool], probe: bool = False) -> str | None:
    """"file", "dir" or None (refused or skipped, with the reason recorded)."""
    path = parts + (name,)
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError as exc:
        if not (probe and exc.errno == errno.ENOENT):
            report.refused.add(f"cannot be read ({exc.strerror})", path)
        return None
    if skip(path):
        return None
    if not decodable(name):
        report.refused.add("the name is not valid UTF-8", path)
        return None
    if len(name.encode()) > NAME_MAX or len("/".join(path).encode()) > bounds.max_path:
        report.refused.add("the name or path is too long", path)
        return None
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        report.refused.add("symbolic links are not accepted", path)
    elif stat.S_ISDIR(mode):
        if len(path) > bounds.max_depth:
            report.refused.add(f"folder nested deeper than {bounds.max_depth} levels", path)
            return None
        return "dir"
    elif stat.S_ISREG(mode):
        return "file"
    else:
        report.refused.add("not a regular file (fifo, device or socket)", path)
    return None


def read_file(found: Found, limit: int) -> bytes:
    """The file's bytes (at most ``limit`` + 1, so the caller sees an overflow), without following a link
    or blocking on a fifo swapped in after the walk looked at it."""
    fd = os.open(found.name, FILE_FLAGS, dir_fd=found.dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks, got = [], 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def all_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` (a tree the grader made itself, already bounded), top first, without recursion."""
    found, todo = [], [Path(root)]
    while todo:
        folder = todo.pop()
        found.append(folder)
        try:
            with os.scandir(folder) as entries:
                todo.extend(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            pass
    return found


def remove_tree(path: Path) -> bool:
    """Remove ``path`` and everything under it, however deep, wide or oddly named; never raises.

    Depth-first through directory fds, each folder listed once. At most REMOVE_WINDOW folders are
    open at once: a folder deeper than that is renamed to the top of the tree (cutting the chain)
    and removed from there in a later round. Returns True when nothing is left.
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        try:
            os.unlink(path)
            return True
        except OSError:
            return False
    try:
        top = os.open(path, DIR_FLAGS)
    except OSError:
        return False
    moved = 0
    stack: list[list] = []
    try:
        for _round in range(10_000):  # a round empties the top; chains moved up during it need another
            moved_before = moved
            stack = [[top, "", None]]  # [fd, name in parent, subfolders still to remove (None: not listed yet)]
            while stack:
                frame = stack[-1]
                fd = frame[0]
                if frame[2] is None:
                    frame[2] = []
                    try:
                        with os.scandir(fd) as entries:
                            for entry in entries:
                                try:
                                    is_dir = entry.is_dir(follow_symlinks=False)
                                except OSError:
                                    is_dir = False
                                if not is_dir:
                                    try:
                                        os.unlink(entry.name, dir_fd=fd)
                                    except OSError:
                                        pass
                                elif len(stack) >= REMOVE_WINDOW:
                                    moved += 1
                                    try:
                                        os.rename(entry.name, f".pa3-rm-{moved}", src_dir_fd=fd, dst_dir_fd=top)
                                    except OSError:
                                        pass
                                else:
                                    frame[2].append(entry.name)
                    except OSError:
                        pass
                if frame[2]:
                    name = frame[2].pop()
                    try:
                        stack.append([os.open(name, DIR_FLAGS, dir_fd=fd), name, None])
                    except OSError:
                        pass
                    continue
                stack.pop()
                if stack:
                    os.close(fd)
                    try:
                        os.rmdir(frame[1], dir_fd=stack[-1][0])
                    except OSError:
                        pass
            if moved == moved_before:
                break
    finally:
        for frame in stack[1:]:
            try:
                os.close(frame[0])
            except OSError:
                pass
        os.close(top)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
