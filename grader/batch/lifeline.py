"""A grading started by a batch ends with it: the batch's death reaches the grading as Ctrl-C would.

Each `pa3 grade` of a local pool runs in its own session (so the batch can stop its whole tree), which
also means nothing stops it when the batch itself is killed: it would grade on, unwatched, into a folder
nobody removes. The batch names itself in the grading's environment; the grading asks the kernel for
SIGTERM when the thread that started it ends, and turns SIGTERM into KeyboardInterrupt so that its
sandboxes and workspace are cleaned up on the way out.
"""

from __future__ import annotations

import ctypes
import os
import signal

ENV = "PA3_GRADING_FOR"
PR_SET_PDEATHSIG = 1


def environment() -> dict[str, str]:
    """What a batch adds to a grading's environment."""
    return {ENV: str(os.getpid())}


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def follow() -> bool:
    """In `pa3 grade`: end when the batch that started it ends. False when not started by one, or where
    the kernel cannot say (not Linux)."""
    expected = os.environ.pop(ENV, None)
    if not expected:
        return False
    try:
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    signal.signal(signal.SIGTERM, _interrupt)
    if str(os.getppid()) != expected:  # the batch died before the request was made
        _interrupt()
    return True
