"""Reading a sandboxed process's output pipe to its end without letting it cost the grader memory."""

from __future__ import annotations

import os
import threading


class Drain(threading.Thread):
    """Read a pipe to the end, keeping the first ``cap`` bytes and dropping (counting) the rest."""

    def __init__(self, stream, cap: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.kept = bytearray()
        self.total = 0
        self.start()

    def run(self) -> None:
        fd = self.stream.fileno()
        try:
            while len(self.kept) < self.cap:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return
                self.total += len(chunk)
                self.kept += chunk[: self.cap - len(self.kept)]
            self._discard(fd)
        except (OSError, ValueError):
            pass

    def _discard(self, fd: int) -> None:
        """Past the cap: move the bytes to /dev/null in the kernel (splice), never into this process."""
        with open(os.devnull, "wb") as sink:
            try:
                while n := os.splice(fd, sink.fileno(), 1 << 20):
                    self.total += n
                return
            except (AttributeError, OSError):
                pass  # no splice here: read into one reused buffer instead
            scratch = memoryview(bytearray(1 << 20))
            while n := os.readv(fd, [scratch]):
                self.total += n

    def text(self) -> str:
        text = self.kept.decode("utf-8", "replace")
        dropped = self.total - len(self.kept)
        return text + (f"\n...[{dropped} more bytes not kept]" if dropped > 0 else "")
