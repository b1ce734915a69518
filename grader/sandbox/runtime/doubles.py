"""Test doubles: stand-ins for the members a graded member calls, answering from data the grader computed.

A member is graded on its own when what it calls behaves as the contract says: the grader computes, on
its side, what each collaborator should answer for the test's inputs, and sends that here as a script
(expected arguments and canned results). No grader or oracle code runs here. Every call is written to a
shared journal that the grader reads back, so it judges what the member passed, and in which order.
This file imports nothing but the standard library and NumPy: it runs inside the sandbox.
"""

import numpy as np

MAX_JOURNAL = 200  # calls kept: a member that loops on its collaborators still ends with a bounded record


class UnexpectedCall(Exception):
    """A double was called with arguments its script does not hold (the grader explains from the journal)."""


class Journal:
    """The calls every double of one test received, in order."""

    def __init__(self):
        self.calls = []

    def record(self, who, method, args):
        if len(self.calls) < MAX_JOURNAL:
            self.calls.append({"who": who, "method": method, "args": [_copy(a) for a in args]})


def _copy(value):
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, (int, float, bool, str, type(None), np.generic)):
        return value
    return f"a {type(value).__name__}"  # not an array: the journal says what it was


def _matches(got, expected):
    if isinstance(expected, np.ndarray):
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-6, atol=1e-9))
    return got == expected


class StandIn:
    """Answers ``forward``/``backward`` (and ``__call__`` as ``call_as``: a model's own method is a double too)
    from ``script``.

    script: {method: [[expected args], result, {attribute: value to set}]...}; attrs: plain attributes
    (parameters, gradients, n_out...) a caller may read.
    """

    def __init__(self, label, script, journal, attrs=None, call_as="forward"):
        self._label, self._script, self._journal, self._call_as = label, script, journal, call_as
        for name, value in (attrs or {}).items():
            setattr(self, name, value)

    def _answer(self, method, args):
        """The scripted answer whose arguments match. Other arguments get NaN of the scripted answer's shape
        (of the first with a first argument of the same shape), so the member runs on, nothing wrong looks
        right, and the grader explains from the journal what was passed."""
        self._journal.record(self._label, method, args)
        entries = self._script.get(method, [])
        if not entries:
            raise UnexpectedCall(f"{self._label}.{method} was called, which the test did not expect")
        chosen = next((e for e in entries if len(e[0]) == len(args) and all(map(_matches, args, e[0]))), None)
        if chosen is None:
            shape = getattr(args[0], "shape", None) if args else None
            like = next((e for e in entries if e[0] and getattr(e[0][0], "shape", ()) == shape), entries[0])[1]
            return np.full(like.shape, np.nan) if isinstance(like, np.ndarray) else float("nan")
        for name, value in chosen[2].items():
            setattr(self, name, {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value)
        return _copy(chosen[1])

    def __getattr__(self, name):
        """Any other public method (``clear_gradients``, a helper of the student's) is recorded and does nothing."""
        if name.startswith("_"):
            raise AttributeError(name)

        def recorded(*args, **kwargs):
            self._journal.record(self._label, name, args)

        return recorded

    def forward(self, *args):
        return self._answer("forward", args)

    def backward(self, *args):
        return self._answer("backward", args)

    def __call__(self, *args):
        return self._answer(self._call_as, args)


def make(specs):
    """The doubles of one test, sharing a journal: (journal, [double, ...])."""
    journal = Journal()
    return journal, [StandIn(s["label"], s["script"], journal, s.get("attrs"), s.get("call_as", "forward"))
                     for s in specs]
