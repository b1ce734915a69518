"""Test doubles for the members a graded member calls, and the judgement of what it passed them.

A model's test gives the model layers and a loss that answer as the contract says, as data computed here
(grader/sandbox/runtime/doubles.py answers from it inside the sandbox): a bug in the student's own layer
is then charged to the layer's tests alone. The doubles record every call; ``expect_calls`` compares the
record with the calls the contract implies and says, in the student's terms, what differs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from grader.sandbox.errors import StudentRaised
from test_specs.support.compare import SpecFailure, fail, preview, shown

MISMATCH = "UnexpectedCall"


def call(what: str, args: list, result, sets: dict | None = None) -> tuple[str, list, object, dict]:
    """One scripted call: ``what`` ("forward"/"backward") with ``args`` answers ``result`` and sets ``sets``."""
    return what, list(args), result, dict(sets or {})


class Collaborators:
    """Doubles named ``labels`` (e.g. "layer 1", "loss"), each with its scripted calls and plain attributes."""

    def __init__(self, student, scripts: dict[str, list], attrs: dict[str, dict] | None = None,
                 known: dict[str, np.ndarray] | None = None) -> None:
        specs = []
        for label, calls in scripts.items():
            script: dict[str, list] = {}
            for method, args, result, sets in calls:
                script.setdefault(method, []).append([args, result, sets])
            # a double standing for one method (label "model.backward") answers a plain call as that method
            call_as = label.rsplit(".", 1)[1] if "." in label else "forward"
            specs.append({"label": label, "script": script, "attrs": (attrs or {}).get(label, {}), "call_as": call_as})
        self.journal, doubles = student.sb.doubles(specs)
        self.doubles = dict(zip(scripts, doubles))
        self.known = dict(known or {})  # arrays the messages can name: "the model's input X", ...

    def handle(self, label: str):
        return self.doubles[label].handle

    def calls(self) -> list[dict]:
        """The record, as far as it is well formed (it lives beside student code, which could write to it)."""
        calls = self.journal.get("calls")
        return [c for c in calls if isinstance(c, dict) and isinstance(c.get("who"), str)
                and isinstance(c.get("method"), str) and isinstance(c.get("args"), list)] \
            if isinstance(calls, list) else []

    def name_of(self, value: object) -> str:
        """How to call ``value`` in a message: a known array's name, or its shape and first values."""
        if isinstance(value, np.ndarray):
            for name, array in self.known.items():
                if value.shape == array.shape and np.allclose(value, array, rtol=1e-6, atol=1e-9):
                    return name
            return f"an array of shape {value.shape} {preview(value)}"
        return value[:120] if isinstance(value, str) else shown(value, 120)

    def run(self, member: str, fn: Callable):
        """``fn()``; a call the doubles did not expect becomes a message from the record."""
        try:
            return fn()
        except StudentRaised as exc:
            if exc.type_name != MISMATCH:
                raise
            last = self.calls()[-1] if self.calls() else None
            if last is None:
                raise SpecFailure(f"{member}: a call went wrong") from None
            args = ", ".join(self.name_of(a) for a in last["args"]) or "no arguments"
            raise SpecFailure(f"{member}: called {last['who']}.{last['method']}({args}), which the contract does "
                              f"not lead to here\n  calls made: {self.summary()}") from None

    def summary(self, calls: list[dict] | None = None) -> str:
        return " -> ".join(f"{c['who']}.{c['method']}" for c in (self.calls() if calls is None else calls)) or "none"

    def expect_calls(self, member: str, expected: list[tuple[str, str, list[str]]], hint: str = "",
                     only: tuple[str, ...] = ("forward", "backward"), among: tuple[str, ...] | None = None,
                     prefix: bool = False) -> None:
        """The record of ``only`` methods on the doubles ``among`` is ``expected`` (or starts with it, ``prefix``):
        (who, method, [names of the known arrays passed])."""
        made = [c for c in self.calls() if c["method"] in only and (among is None or c["who"] in among)]
        for i, (who, method, arg_names) in enumerate(expected):
            if i >= len(made):
                fail(member, f"{who}.{method} was never called", hint,
                     expected=" -> ".join(f"{w}.{m}" for w, m, _ in expected), got=self.summary(made))
            got = made[i]
            if (got["who"], got["method"]) != (who, method):
                fail(member, f"call {i + 1} went to {got['who']}.{got['method']}, expected {who}.{method}", hint,
                     expected=" -> ".join(f"{w}.{m}" for w, m, _ in expected), got=self.summary(made))
            for position, name in enumerate(arg_names):
                passed = got["args"][position] if position < len(got["args"]) else None
                if passed is None or self.name_of(passed) != name:
                    fail(member, f"{who}.{method} was given the wrong argument", hint, expected=name,
                         got=self.name_of(passed) if passed is not None else "nothing")
        if len(made) > len(expected) and not prefix:
            extra = made[len(expected)]
            fail(member, f"{extra['who']}.{extra['method']} was called again", hint,
                 expected=" -> ".join(f"{w}.{m}" for w, m, _ in expected), got=self.summary(made))

    def expect_args(self, member: str, who: str, method: str, names: list[str], hint: str = "") -> None:
        """Every call of ``who.method`` was given the known arrays ``names``, in this order."""
        for made in self.calls():
            if (made["who"], made["method"]) != (who, method):
                continue
            got = [self.name_of(a) for a in made["args"]]
            if got != names:
                fail(member, f"{who}.{method} was given the wrong arguments", hint,
                     expected=f"({', '.join(names)})", got=f"({', '.join(got)})")
