"""The grader's private temporary space for one submission: everything it writes goes here."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from grader.fstree import remove_tree
from grader.sandbox import proctree

STALE = re.compile(r"^(?P<prefix>pa3-[a-z]+-)(?P<pid>\d+)-(?P<start>\d+)-")


def stale(parent: Path, prefix: str = "pa3-grade-") -> list[Path]:
    """The folders named ``prefix<owner tag>-...`` in ``parent`` whose owner no longer runs."""
    try:
        names = [entry.name for entry in os.scandir(parent) if entry.name.startswith(prefix)]
    except OSError:
        return []
    return [parent / name for name in names if (match := STALE.match(name)) and match["prefix"] == prefix
            and not proctree.tag_alive(match["pid"], match["start"])]


def reclaim_stale(parent: Path, prefix: str = "pa3-grade-") -> None:
    """Remove what ``stale`` finds: a grader's workspace, a batch's folder for one grading, whose owner was
    killed before it could remove it."""
    for path in stale(parent, prefix):
        remove_tree(path)


class Workspace:
    """A temporary folder, traversable (not listable) by the sandbox uid, removed on exit.

    Layout: ``unpacked/`` (the submission as received), ``worker/`` (the worker's private
    copy of the modules), ``notebook/`` (the notebook run), ``export/`` (what it exported).
    """

    def __init__(self, keep: bool = False, parent: Path | None = None) -> None:
        reclaim_stale(Path(parent or tempfile.gettempdir()))
        self.root = Path(tempfile.mkdtemp(prefix=f"pa3-grade-{proctree.owner_tag()}-", dir=parent))
        self.root.chmod(0o711)
        self.keep = keep

    def path(self, name: str, mode: int = 0o700) -> Path:
        """A folder of the workspace; private (0700) unless a sandbox uid must read or traverse it."""
        folder = self.root / name
        try:
            folder.mkdir(mode=mode)
            folder.chmod(mode)  # mkdir's mode is masked by the umask
        except FileExistsError:
            pass
        return folder

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        if not self.keep:
            remove_tree(self.root)  # however deep or odd the tree the sandbox left
