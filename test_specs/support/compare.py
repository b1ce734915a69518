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
    return shown(value)


def shown(value: object, limit: int = 200) -> str:
    """``value`` as the student would print it: an object left in the sandbox is asked for its own repr."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in list(value.items())[:10]) + "}"
    name = getattr(value, "type_name", None)
    if name is None:
        return repr(value)[:limit]
    try:
        text = value.call("__repr__")
    except Exception:  # noqa: BLE001 - a repr that fails is just not shown
        text = None
    text = text if isinstance(text, str) else ""
    return f"{text[:limit]}{' ...' if len(text) > limit else ''}" if text else f"a {name} object"


def shape_hint(got: tuple, expected: tuple) -> str:
    """What a shape that differs from the contract's says, or nothing."""
    if tuple(s for s in got if s != 1) == tuple(s for s in expected if s != 1) and got != expected:
        return (f"same values, but shape {got} instead of {expected}: keep the summed axis (keepdims=True) "
                f"or reshape to {expected}")
    if got == expected[::-1] and len(got) == 2:
        return f"shape {got} is the transpose of {expected}: check the order of the factors (or .T)"
    if len(got) == len(expected) == 2 and 1 in got and 1 in expected and got.index(1) != expected.index(1):
        return f"shape {got} comes from reducing the other axis: the batch is axis 0, the rows"
    return ""


def value_hint(got: np.ndarray, expected: np.ndarray, batch: int | None = None, generic: bool = True) -> str:
    """What the values show (a flipped sign, a factor of the batch size, any constant factor if ``generic``),
    or nothing."""
    scale = float(np.vdot(expected, expected))
    if scale == 0 or not np.all(np.isfinite(got)):
        return ""
    ratio = float(np.vdot(got, expected)) / scale
    spread = 1e-5 * float(np.max(np.abs(expected)))
    if not np.allclose(got, ratio * expected, rtol=1e-5, atol=spread) or np.isclose(ratio, 1.0):
        return ""
    if np.isclose(ratio, 0.0):
        return ""
    if np.isclose(ratio, -1.0):
        return "your values have the opposite sign: check the sign of the formula"
    if batch and batch > 1 and np.isclose(ratio, 1 / batch):
        return f"your values are 1/{batch} of the expected ones, {batch} being the batch size: sum over the batch " \
               "where you take the mean"
    if batch and batch > 1 and np.isclose(ratio, batch):
        return f"your values are {batch} times the expected ones, {batch} being the batch size: divide by the " \
               "batch size m"
    return f"your values are the expected ones times {ratio:.4g}: look for a missing or extra factor" if generic else ""


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
        fail(what, "wrong shape", shape_hint(actual.shape, tuple(shape)), expected=f"shape {tuple(shape)}",
             got=f"shape {actual.shape}")
    if actual.dtype.kind not in "fiub":
        fail(what, "expected real numbers", hint, expected="float64 values", got=f"dtype {actual.dtype}")
    return actual.astype(np.float64)


def error_text(got: float, expected: float, scale: float = 0.0) -> str:
    """"abs error A, rel error R", the relative error only where it means something: an expected value that is
    (nearly) 0, absolutely or next to the array's largest (``scale``), would make it huge (7e+300) and useless."""
    error = abs(got - expected)
    if abs(expected) <= max(1e-12, 1e-9 * abs(scale)):
        return f"abs error {error:.2e}; the expected value is 0, so no relative error"
    return f"abs error {error:.2e}, rel error {error / abs(expected):.2e}"


def mistake_hint(got: np.ndarray, mistakes: dict[str, np.ndarray] | None) -> str:
    """The hint of the first known mistake whose result ``got`` equals, or nothing."""
    for text, wrong in (mistakes or {}).items():
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-6, atol=1e-9, equal_nan=True):
            return text
    return ""


def assert_close(actual: object, expected: np.ndarray, what: str, hint: str = "",
                 rtol: float = 1e-6, atol: float = 1e-9, batch: int | None = None,
                 mistakes: dict[str, np.ndarray] | None = None, nan_hint: str = "") -> None:
    """``actual`` equals ``expected``. The hint shown is the one the values support: a known mistake's
    (``mistakes``: hint -> what that mistake gives), a sign or batch-size factor, else ``hint`` (the
    contract's formula), which the caller passes only where it is never misleading; ``nan_hint`` is shown
    only when the values hold inf or nan."""
    expected = np.asarray(expected, dtype=np.float64)
    got = as_array(actual, expected.shape, what)
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        fail(what, "contains inf or nan", mistake_hint(got, mistakes) or nan_hint or "look for overflow in exp or "
             "a division by zero",
             expected=_preview(expected), got=_preview(got), where=f"first at index {list(bad)}")
    diff = np.abs(got - expected)
    if np.all(diff <= atol + rtol * np.abs(expected)):
        return
    index = np.unravel_index(np.argmax(diff - rtol * np.abs(expected)), expected.shape)
    hint = mistake_hint(got, mistakes) or value_hint(got, expected, batch) or hint
    fail(what, "values differ from the expected ones", hint,
         expected=f"{_preview(expected)}  shape {expected.shape}",
         got=f"{_preview(got)}  shape {got.shape}",
         largest=f"at index {[int(i) for i in index]}: expected {expected[index]:.6g}, got {got[index]:.6g} "
                 f"({error_text(float(got[index]), float(expected[index]), float(np.abs(expected).max()))}; "
                 f"max abs error {diff.max():.2e})")


def assert_scalar(actual: object, expected: float, what: str, hint: str = "", rtol: float = 1e-6,
                  atol: float = 1e-12, batch: int | None = None, mistakes: dict[str, float] | None = None) -> float:
    """``actual`` is one number equal to ``expected``; the hint is chosen as in ``assert_close``."""
    if isinstance(actual, np.ndarray) and actual.size == 1 and actual.ndim <= 2:
        actual = actual.reshape(())[()]
    if isinstance(actual, bool) or not isinstance(actual, (int, float, np.integer, np.floating)):
        fail(what, "expected a single number (a float or a NumPy scalar)", "" if isinstance(actual, np.ndarray)
             and actual.size > 1 else hint, expected=f"{expected:.6g}", got=describe(actual))
    value = float(actual)
    if not np.isclose(value, expected, rtol=rtol, atol=atol):
        if not np.isfinite(value):
            hint = mistake_hint(np.array(value), mistakes) or "look for log(0) or a division by zero"
        else:
            hint = (mistake_hint(np.array(value), mistakes)
                    or value_hint(np.array([value]), np.array([expected]), batch, generic=False) or hint)
        fail(what, "wrong value", hint, expected=f"{expected:.8g}", got=f"{value:.8g}",
             error=error_text(value, expected))
    return value


def assert_gradient(analytic: object, numeric: np.ndarray, what: str, hint: str = "", tolerance: float = 1e-6,
                    batch: int | None = None) -> None:
    from test_specs.support.gradcheck import relative_error

    got = as_array(analytic, numeric.shape, what)
    error = relative_error(got, numeric)
    if not error < tolerance:
        index = np.unravel_index(np.argmax(np.abs(got - numeric)), numeric.shape)
        # differences carry their own error: only a sign or a batch-size factor is clear enough to name
        shown_hint = value_hint(got, numeric, batch, generic=False) if np.all(np.isfinite(got)) else ""
        fail(what, f"does not match central differences (relative error {error:.2e}, allowed {tolerance:.0e})",
             shown_hint or hint,
             numeric=f"{_preview(numeric)}  shape {numeric.shape}",
             got=f"{_preview(got)}  shape {got.shape}",
             largest=f"at index {[int(i) for i in index]}: numeric {numeric[index]:.6g}, yours {got[index]:.6g}")


def assert_unchanged(before: np.ndarray, after: object, what: str) -> None:
    if not isinstance(after, np.ndarray) or after.shape != before.shape or not np.array_equal(after, before):
        fail(what, "your code modified its input array in place", "work on a new array: an assignment into the "
             "argument (A[...] = ..., A += ...) changes the caller's array", before=_preview(before),
             after=_preview(np.asarray(after)))
