"""Where a student stands, member by member: done, failing n of m tests, or not started (the template's stub)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.members import ALL, OTHER, member_of
from grader.results import GradeResult, TestResult
from test_specs.contract import MEMBER_MODULE

DONE, FAILING, NOT_STARTED, NOT_LOADED = "done", "failing", "not started", "not loaded"


@dataclass
class MemberProgress:
    member: str
    state: str
    tests: list[TestResult]
    module: str = ""

    @property
    def failed(self) -> list[TestResult]:
        return [t for t in self.tests if t.status != "passed"]

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def summary(self) -> str:
        """``7 of 7 tests pass``, ``2 of 7 tests fail``, ``9 tests (template stub)``; points too where a test has
        partial credit."""
        count = len(self.tests)
        tests = "test" if count == 1 else "tests"
        text = {DONE: f"{count} of {count} {tests} " + ("passes" if count == 1 else "pass"),
                FAILING: f"{len(self.failed)} of {count} {tests} " + ("fails" if len(self.failed) == 1 else "fail"),
                NOT_STARTED: f"{count} {tests} (template stub)",
                NOT_LOADED: f"{count} {tests}, {self.module}.py: see the note"}[self.state]
        if self.state == FAILING and abs(self.max_score - count) > 1e-9:  # partial credit: points say more
            text += f", {self.score:g} / {self.max_score:g} points"
        return text


def progress(result: GradeResult) -> list[MemberProgress]:
    """One entry per member with tests in ``result``, in the contract's order; tests of no member last."""
    stubs = set(result.extra.get("stub_members", ()))
    blocked = result.extra.get("module_problems", {})  # a missing or broken file: one note, not a panel per test
    grouped: dict[str, list[TestResult]] = {}
    for test in result.tests:
        grouped.setdefault(member_of(test.name), []).append(test)
    out = []
    for member in [*ALL, OTHER]:
        tests = grouped.get(member)
        if not tests:
            continue
        if all(t.status == "passed" for t in tests):
            state = DONE
        elif member in stubs and not any(t.status == "passed" for t in tests):
            state = NOT_STARTED
        elif MEMBER_MODULE.get(member) in blocked:
            state = NOT_LOADED
        else:
            state = FAILING
        out.append(MemberProgress(member, state, tests, MEMBER_MODULE.get(member, "")))
    return out
