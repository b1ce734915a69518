"""Write a file whole or not at all: into a temporary file in the same folder, flushed to disk, then renamed
over the target (os.replace), so that a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path`` for the caller to write (a zip writer, say); when the block
    ends cleanly, flush it to disk, set its ``mode`` (None: the umask's, as a plain open gives) and rename it
    over ``path``. When the block or the rename fails, the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> Path:
    with replacing(path, mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str, mode: int | None = None, newline: str | None = None) -> Path:
    with replacing(path, mode) as tmp, open(tmp, "w", newline=newline) as f:
        f.write(text)
    return Path(path)


def write_json(path: Path, document, mode: int | None = 0o644) -> Path:
    """``document`` as indented JSON (no NaN or infinity: they are not JSON), readable by all as results.json is."""
    return write_text(path, json.dumps(document, indent=2, allow_nan=False), mode)
