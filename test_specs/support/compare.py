"""Trusted comparisons whose failures tell the student what was expected, what came back, and a hint."""

from __future__ import annotations

import numpy as np


class SpecFailure(AssertionError):
    """A graded check failed; the message is shown to the student as is."""


def describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, (bool, int, float, np.generic)):
        return f"{type(value).__name__} {value!r}"
    if value is None:
        return "None (did you forget to return?)"
    return f"a {getattr(value, 'type_name', type(value).__name__)} object"


def _preview(array: np.ndarray) -> str:
    flat = np.asarray(array, dtype=np.float64).ravel()
    values = np.array2string(flat[:6], precision=4, suppress_small=True, max_line_width=200)
    return values[:-1] + (" ...]" if flat.size > 6 else "]")


preview = _preview  # a few values of an array, as messages show them


def fail(what: str, problem: str, hint: str = "", **lines: str) -> None:
    message = f"{what}: {problem}"
    for label, text in lines.items():
        message += f"\n  {label + ':':<10}{text}"
    if hint:
        message += f"\n  hint: {hint}"
    raise SpecFailure(message)


def as_array(actual: object, shape: tuple, what: str, hint: str = "") -> np.ndarray:
    """``actual`` as a float ndarray of ``shape``, or a failure saying what came back instead."""
    if isinstance(actual, np.generic) and shape == ():
        actual = np.asarray(actual)
    if not isinstance(actual, np.ndarray):
        fail(what, "expected a NumPy array", hint, expected=f"ndarray of shape {shape}", got=describe(actual))
    if actual.shape != tuple(shape):
        fail(what, "wrong shape", hint or "check which axis you sum over and keepdims",
             expected=f"shape {tuple(shape)}", got=f"shape {actual.shape}")
    if actual.dtype.kind not in "fiub":
        fail(what, "expected real numbers", hint, expected="float64 values", got=f"dtype {actual.dtype}")
    return actual.astype(np.float64)


def assert_close(actual: object, expected: np.ndarray, what: str, hint: str = "",
                 rtol: float = 1e-6, atol: float = 1e-9) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    got = as_array(actual, expected.shape, what, hint)
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        fail(what, "contains inf or nan", hint or "look for overflow in exp or a division by zero",
             expected=_preview(expected), got=_preview(got), where=f"first at index {list(bad)}")
    diff = np.abs(got - expected)
    if np.all(diff <= atol + rtol * np.abs(expected)):
        return
    index = np.unravel_index(np.argmax(diff - rtol * np.abs(expected)), expected.shape)
    rel = diff[index] / max(abs(expected[index]), 1e-300)
    fail(what, "values differ from the expected ones", hint,
         expected=f"{_preview(expected)}  shape {expected.shape}",
         got=f"{_preview(got)}  shape {got.shape}",
         largest=f"at index {[int(i) for i in index]}: expected {expected[index]:.6g}, got {got[index]:.6g} "
                 f"(abs error {diff[index]:.2e}, rel error {rel:.2e}; max abs error {diff.max():.2e})")


def assert_scalar(actual: object, expected: float, what: str, hint: str = "", rtol: float = 1e-6) -> float:
    if isinstance(actual, np.ndarray) and actual.size == 1 and actual.ndim <= 2:
        actual = actual.reshape(())[()]
    if isinstance(actual, bool) or not isinstance(actual, (int, float, np.integer, np.floating)):
        fail(what, "expected a single number (a float or a NumPy scalar)", hint, expected=f"{expected:.6g}",
             got=describe(actual))
    value = float(actual)
    if not np.isclose(value, expected, rtol=rtol, atol=1e-12):
        fail(what, "wrong value", hint, expected=f"{expected:.8g}", got=f"{value:.8g}",
             error=f"abs {abs(value - expected):.2e}, rel {abs(value - expected) / max(abs(expected), 1e-300):.2e}")
    return value


def assert_gradient(analytic: object, numeric: np.ndarray, what: str, hint: str = "", tolerance: float = 1e-6) -> None:
    from test_specs.support.gradcheck import relative_error

    got = as_array(analytic, numeric.shape, what, hint)
    error = relative_error(got, numeric)
    if not error < tolerance:
        index = np.unravel_index(np.argmax(np.abs(got - numeric)), numeric.shape)
        fail(what, f"does not match central differences (relative error {error:.2e}, allowed {tolerance:.0e})", hint,
             numeric=f"{_preview(numeric)}  shape {numeric.shape}",
             got=f"{_preview(got)}  shape {got.shape}",
             largest=f"at index {[int(i) for i in index]}: numeric {numeric[index]:.6g}, yours {got[index]:.6g}")


def assert_unchanged(before: np.ndarray, after: object, what: str) -> None:
    if not isinstance(after, np.ndarray) or after.shape != before.shape or not np.array_equal(after, before):
        fail(what, "your code modified its input array in place", "work on a copy (e.g. np.maximum(Z, 0)) "
             "instead of writing into the argument", before=_preview(before), after=_preview(np.asarray(after)))
