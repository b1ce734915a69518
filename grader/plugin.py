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
from grader.messages import DEADLINE_REACHED, NOT_RUN, RUN_STOPPED_BEFORE, explain
from grader.results import TestResult, number_key

# How the specs reach the grading context (test_specs/conftest.py's ``ctx``): pytest's own per-run store.
CONTEXT = pytest.StashKey[object]()
LARGE_REPLIES = 1 << 20  # bytes received in one test (honest: < 64 KiB) past which its leftovers are collected at once


def test_name(item: pytest.Item) -> str:
    doc = (getattr(item.obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else item.name


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
        config.stash[CONTEXT] = self.context

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
            reason = getattr(sandbox, "deadline_reason", DEADLINE_REACHED)
            self._record(item, False, NOT_RUN + reason)
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
                self._record(item, False, RUN_STOPPED_BEFORE)
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
