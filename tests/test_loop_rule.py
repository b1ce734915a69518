"""The no-loop rule flags code that runs a Python loop over the batch, and only that (README: the loop rule)."""

from __future__ import annotations

import pytest

from test_specs.support.loops import batch_loops

SOURCE = '''
import numpy as np


def relu_scalar(z):
    return max(z, 0.0)


@np.vectorize
def decorated(z):
    return max(z, 0.0)


class Unused:
    def forward(self, Z):
        f = np.vectorize(relu_scalar)
        return np.maximum(Z, 0)

    def inner_never_called(self, Z):
        def slow(Z):
            return np.array([max(z, 0) for z in Z])
        return np.maximum(Z, 0)

    def over_columns(self, Z):
        cols = np.apply_along_axis(lambda c: c - c.max(), 0, Z)
        return [c.sum() for c in Z.T] + list(map(np.sum, Z.T)) + [cols]


class Applied:
    def __init__(self):
        self.f = np.vectorize(relu_scalar)

    def local(self, Z):
        f = np.vectorize(relu_scalar)
        return f(Z)

    def attribute(self, Z):
        return self.f(Z)

    def direct(self, Z):
        return np.frompyfunc(relu_scalar, 1, 1)(Z).astype(float)

    def decorator(self, Z):
        return decorated(Z)

    def rows(self, Z):
        return np.apply_along_axis(lambda r: r - r.max(), 1, Z)

    def rows_keyword(self, Z):
        return np.apply_along_axis(lambda r: r / r.sum(), axis=-1, arr=Z)

    def mapped(self, Z):
        return np.array(list(map(lambda r: r - r.max(), Z)))

    def from_rows(self, Y, Y_hat):
        return -np.fromiter(map(np.dot, Y, np.log(Y_hat)), float).mean()

    def inner_called(self, Z):
        def slow(Z):
            return np.array([max(z, 0) for z in Z])
        return slow(Z)
'''


@pytest.mark.parametrize("member", ["Unused.forward", "Unused.inner_never_called", "Unused.over_columns"])
def test_code_that_does_not_loop_over_the_batch_passes(member):
    assert batch_loops(SOURCE, member) == []


@pytest.mark.parametrize("member,line", [
    ("Applied.local", "return f(Z)"), ("Applied.attribute", "return self.f(Z)"),
    ("Applied.direct", "np.frompyfunc(relu_scalar, 1, 1)(Z)"), ("Applied.decorator", "return decorated(Z)"),
    ("Applied.rows", "apply_along_axis(lambda r: r - r.max(), 1, Z)"),
    ("Applied.rows_keyword", "axis=-1, arr=Z"), ("Applied.mapped", "map(lambda r: r - r.max(), Z)"),
    ("Applied.from_rows", "np.fromiter(map(np.dot, Y, np.log(Y_hat))"),
    ("Applied.inner_called", "for z in Z"),
])
def test_per_row_helpers_applied_to_the_batch_are_flagged_with_their_line(member, line):
    findings = batch_loops(SOURCE, member)
    assert findings and all(line in f.code for f in findings[:1]), findings
    assert str(findings[0]).startswith(f"line {findings[0].line} in ")
