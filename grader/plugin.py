"""A pytest plugin that turns spec runs into TestResults.

Points, numbers, visibility and tags come from gradescope-utils' decorators
(``__weight__``, ``__number__``, ``__visibility__``, ``__tags__``; ``partial_credit``
sets ``__score__``). A test's name is the first line of its docstring. Collection
errors, skipped tests and tests never reached are failures in the results, never gaps.
"""

from __future__ import annotations

import gc
import sys
import time
import traceback

import pytest

from grader.members import member_of
from grader.results import TestResult, number_key
from grader.sandbox.errors import CallTimedOut, SandboxError, StudentRaised, Unavailable, WorkerDied

LARGE_REPLIES = 1 << 20  # bytes received in one test (honest: < 64 KiB) past which its leftovers are collected at once
HINTS = {
    "NotImplementedError": "this member is still the template's stub: replace the raise with your implementation",
    "ModuleNotFoundError": "check the file names and imports (modules are imported by file name, e.g. `from activations import ReLU`)",
    "ImportError": "check the file names and imports (modules are imported by file name, e.g. `from activations import ReLU`)",
    "SystemExit": "do not call sys.exit() or exit() in your modules",
    "MemoryError": "the call used more memory than the grader allows",
}


def test_name(item: pytest.Item) -> str:
    doc = (getattr(item.obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else item.name


def explain(exc: BaseException) -> str:
    """A student-facing explanation of why a test failed."""
    if isinstance(exc, StudentRaised):
        text = f"your code raised {exc.type_name}: {exc.message}"
        if exc.detail:
            text += f"\n  at {exc.detail}"
        if exc.traceback:
            text += "\n  traceback (your files only):\n" + "\n".join("    " + line for line in exc.traceback.rstrip().splitlines())
        if exc.type_name in HINTS:
            text += f"\n  hint: {HINTS[exc.type_name]}"
        return text
    if isinstance(exc, CallTimedOut):
        return f"your code {exc} (an infinite loop, or far too slow); hint: look for a loop that never ends"
    if isinstance(exc, Unavailable):
        return str(exc)
    if isinstance(exc, WorkerDied):
        return f"the process running your code ended: {exc}"
    if isinstance(exc, SandboxError):
        return str(exc)
    if isinstance(exc, AssertionError):
        return str(exc) or "assertion failed"
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "grader error (not your fault; please tell the course staff):\n" + "".join(lines[-6:])


class ResultsPlugin:
    def __init__(self, context: object, deadline_at: float | None = None, only: tuple[str, ...] | None = None) -> None:
        self.context = context
        self.deadline_at = deadline_at
        self.only = only  # members whose tests run (`pa3 check relu`); None: all
        self.items: list[pytest.Item] = []
        self.results: dict[str, TestResult] = {}
        self.collect_errors: list[tuple[str, str]] = []

    # -- configuration and collection ---------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        config.pa3 = self.context

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append((report.nodeid, str(report.longrepr)[-3000:]))

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.only is not None:
            dropped = [item for item in items if member_of(test_name(item)) not in self.only]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
                items[:] = [item for item in items if member_of(test_name(item)) in self.only]
        items.sort(key=lambda item: number_key(getattr(item.obj, "__number__", "999")))
        self.items = list(items)

    # -- running ----------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem) -> bool | None:
        sandbox = getattr(self.context, "sandbox", None)
        if self.deadline_at is not None and time.monotonic() > self.deadline_at:
            reason = getattr(sandbox, "deadline_reason", "the grading deadline was reached")
            self._record(item, False, f"not run: {reason}")
            return True
        if sandbox is not None:
            sandbox.begin_test()
        if hasattr(item.obj, "__score__"):
            del item.obj.__score__
        return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        try:
            self._report(item, call, report)
        finally:
            if call.excinfo is not None:
                forget(call.excinfo.value)
            sandbox = getattr(self.context, "sandbox", None)
            if call.when == "teardown" and getattr(sandbox, "received_in_test", 0) > LARGE_REPLIES:
                # Failed checks leave reference cycles (frames, their locals) that hold the arrays this test
                # received; free them now rather than whenever the cyclic collector next runs.
                gc.collect()

    def _report(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
        if item.nodeid in self.results and self.results[item.nodeid].status == "failed":
            return  # keep the first failure (e.g. setup) over later phases
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self._record(item, False, f"skipped, so counted as failed: {reason}")
        elif report.failed:
            exc = call.excinfo.value if call.excinfo else None
            self._record(item, False, explain(exc) if exc is not None else str(report.longrepr)[-3000:])
        elif call.when == "call":
            self._record(item, True, "")

    def _record(self, item: pytest.Item, passed: bool, output: str) -> None:
        obj = item.obj
        weight = float(getattr(obj, "__weight__", 0.0))
        partial = getattr(obj, "__score__", None)
        score = weight if passed else 0.0
        if partial is not None:
            score = min(max(float(partial), 0.0), weight)
        status = "passed" if score >= weight and (passed or partial is not None) else "failed"
        self.results[item.nodeid] = TestResult(
            name=test_name(item), number=str(getattr(obj, "__number__", "")), score=score, max_score=weight,
            status=status, output=output, visibility=getattr(obj, "__visibility__", "visible"),
            tags=list(getattr(obj, "__tags__", ())))

    # -- results ------------------------------------------------------------------------------

    def collected(self) -> list[TestResult]:
        """Every collected test's result; a test that never reported is a failure."""
        out = []
        for item in self.items:
            if item.nodeid not in self.results:
                self._record(item, False, "not run: the test run stopped before this test")
            out.append(self.results[item.nodeid])
        return out


def forget(exc: BaseException) -> None:
    """Drop the locals of a failed test's frames (and pytest's copy of the last failure): the report is
    already text, and those locals may hold large arrays the worker sent back."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
