"""Reading and writing a worker's pipe with a deadline where ``select.poll`` does not exist (Windows)."""

from __future__ import annotations

import os
import threading
import time


class _Read(threading.Thread):
    def __init__(self, fd: int, n: int) -> None:
        super().__init__(daemon=True)  # left blocked only until the worker it reads from is killed
        self.fd, self.n = fd, n
        self.data: bytes | None = None
        self.error: OSError | None = None
        self.start()

    def run(self) -> None:
        try:
            self.data = os.read(self.fd, self.n)
        except OSError as exc:
            self.error = exc


def read_before_threaded(fd: int, n: int, deadline: float, flooded, timeout_error: type[Exception],
                         flood_error: type[Exception]) -> bytes:
    """``n`` bytes from ``fd`` before ``deadline``: each blocking read runs in a thread we wait on."""
    chunks, got = [], 0
    while got < n:
        reader = _Read(fd, min(n - got, 1 << 20))
        while reader.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise timeout_error
            reader.join(min(remaining, 0.2))
            if reader.is_alive() and flooded():
                raise flood_error
        if reader.error is not None:
            raise reader.error
        if not reader.data:
            raise EOFError
        chunks.append(reader.data)
        got += len(reader.data)
    return b"".join(chunks)


class _Write(threading.Thread):
    def __init__(self, fd: int, data) -> None:
        super().__init__(daemon=True)  # left blocked only until the worker it writes to is killed
        self.fd, self.data = fd, data
        self.error: OSError | None = None
        self.start()

    def run(self) -> None:
        try:
            view = self.data
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            self.error = exc


def write_before_threaded(fd: int, data, deadline: float, timeout_error: type[Exception]) -> None:
    """Write all of ``data`` to ``fd`` before ``deadline``: the blocking write runs in a thread we wait on."""
    writer = _Write(fd, data)
    writer.join(max(0.0, deadline - time.monotonic()))
    if writer.is_alive():
        raise timeout_error
    if writer.error is not None:
        raise writer.error
