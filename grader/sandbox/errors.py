"""The errors the sandbox raises to its callers, in one place.

``SandboxError`` and its subclasses say why a call into student code produced no value (the
pytest plugin turns each into a test outcome); ``IsolationUnavailable`` says why an isolation
level cannot run here at all. The wire format's own errors (``ProtocolError``, ``FrameTooLarge``)
stay in runtime/codec.py: the worker raises them too, inside the sandbox, where only its runtime
folder is importable; the client turns them into ``WorkerDied`` before they reach a caller.
"""

from __future__ import annotations


class SandboxError(Exception):
    """A call into student code did not produce a value."""


class StudentRaised(SandboxError):
    """Student code raised an exception (reported with the student's own frames only)."""

    def __init__(self, type_name: str, message: str, traceback: str = "", detail: str = "") -> None:
        self.type_name, self.message, self.traceback, self.detail = type_name, message, traceback, detail
        super().__init__(f"{type_name}: {message}")


class WorkerDied(SandboxError):
    """The worker process ended during a call (os._exit, a crash, a limit)."""


class CallTimedOut(SandboxError):
    """A call did not return within its time limit; the worker was killed."""


class Unavailable(SandboxError):
    """The call was not attempted: the module has a submission problem, or the member hung before."""


class DeadlineReached(Unavailable):
    """The grading's time limit, not the student, ended the call: before it started (``started`` False) or
    during it. ``reason`` says which limit; the entry points word it (grader/messages.py)."""

    def __init__(self, reason: str, started: bool) -> None:
        super().__init__(reason)
        self.reason, self.started = reason, started


class IsolationUnavailable(RuntimeError):
    """The requested isolation level cannot run on this machine; the message says why."""
