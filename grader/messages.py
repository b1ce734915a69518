"""Student-facing text in one place: why a test failed, hints, and what a cut-short or broken grading says.

The plugin, the specs (through test_specs/support/checklist.py), the sandbox client and both sections import
these, so a sentence a student reads is written once.
"""

from __future__ import annotations

import traceback

from grader.sandbox.errors import (
    CallTimedOut,
    DeadlineReached,
    SandboxError,
    StudentRaised,
    Unavailable,
    WorkerDied,
)

_IMPORTS = "check the file names and imports (modules are imported by file name, e.g. `from activations import ReLU`)"
HINTS = {
    "NotImplementedError": "this member is still the template's stub: replace the raise with your implementation",
    "ModuleNotFoundError": _IMPORTS,
    "ImportError": _IMPORTS,
    "SystemExit": "do not call sys.exit() or exit() in your modules",
    "MemoryError": "the call used more memory than the grader allows",
}

# A test that a time limit cut short starts with one of these (grade.py counts them for the TA).
NOT_RUN = "not run: "
STOPPED = "stopped: "
CUT_SHORT = (NOT_RUN, STOPPED)
DEADLINE_REACHED = "the grading deadline was reached"
RUN_STOPPED_BEFORE = NOT_RUN + "the test run stopped before this test"

NOT_YOUR_FAULT = "not your fault; please tell the course staff"


def grader_error(what: str, detail: str) -> str:
    """The grader itself broke: say so, and that it is not the student's doing."""
    return f"{what} ({NOT_YOUR_FAULT}): {detail}"


def tell_staff(message: str) -> str:
    """A grading that could not happen at all (results.json's one entry)."""
    return f"{message}; please tell the course staff"


def explain(exc: BaseException) -> str:
    """A student-facing explanation of why a test failed."""
    if isinstance(exc, StudentRaised):
        text = f"your code raised {exc.type_name}: {exc.message}"
        if exc.detail:
            text += f"\n  at {exc.detail}"
        if exc.traceback:
            text += "\n  traceback (your files only):\n" + "\n".join(
                "    " + line for line in exc.traceback.rstrip().splitlines())
        if exc.type_name in HINTS:
            text += f"\n  hint: {HINTS[exc.type_name]}"
        return text
    if isinstance(exc, CallTimedOut):
        return f"your code {exc} (an infinite loop, or far too slow); hint: look for a loop that never ends"
    if isinstance(exc, WorkerDied):
        return f"the process running your code ended: {exc}"
    if isinstance(exc, DeadlineReached):  # the grading's limit: said so, so that the TA is told too
        return (STOPPED if exc.started else NOT_RUN) + exc.reason
    if isinstance(exc, (Unavailable, SandboxError)):
        return str(exc)
    if isinstance(exc, AssertionError):
        return str(exc) or "assertion failed"
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"grader error ({NOT_YOUR_FAULT}):\n" + "".join(lines[-6:])
