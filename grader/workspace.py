"""The grader's private temporary space for one submission: everything it writes goes here."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


class Workspace:
    """A temporary folder, traversable (not listable) by the sandbox uid, removed on exit.

    Layout: ``unpacked/`` (the submission as received), ``worker/`` (the worker's private
    copy of the modules), ``notebook/`` (the notebook run), ``export/`` (what it exported).
    """

    def __init__(self, keep: bool = False, parent: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pa3-grade-", dir=parent))
        self.root.chmod(0o711)
        self.keep = keep

    def path(self, name: str) -> Path:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        return folder

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
