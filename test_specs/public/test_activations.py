"""Section 1.1: ReLU and SoftMax (visible tests)."""

import numpy as np

from test_specs.support import targets
from test_specs.support.compare import as_array, assert_close, assert_gradient, assert_unchanged, fail
from test_specs.support.gradcheck import linear_probe, numerical_gradient
from test_specs.support.graded import graded

RELU_Z = np.array([[-2.0, 0.5, 3.0, -0.25], [1.5, -1.0, 0.0, 4.0]])
RELU_Y = np.array([[0.0, 0.5, 3.0, 0.0], [1.5, 0.0, 0.0, 4.0]])
# exp of [0, ln 2, ln 3] is [1, 2, 3]: probabilities 1/6, 1/3, 1/2
SOFTMAX_Z = np.log(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]]))
SOFTMAX_Y = np.array([[1 / 6, 1 / 3, 1 / 2], [1 / 3, 1 / 3, 1 / 3]])
SOFTMAX_HINT = "subtract each row's max, exponentiate, divide by each row's sum (axis=1, keepdims=True)"


def check_activation_gradient(student, name: str, rng, shape: tuple, scale: float = 1.0, hint: str = "") -> None:
    """The student's backward of ``name`` against central differences of the forward, on random (m, k) inputs."""
    activation = student.relu() if name == "relu" else student.softmax()
    Z, dY = rng.normal(size=shape) * scale, rng.normal(size=shape)
    if name == "relu":
        Z = away_from_kink(Z)
    numeric = numerical_gradient(linear_probe(targets.forward(student, name), dY), Z)
    label = "ReLU" if name == "relu" else "SoftMax"
    assert_gradient(activation.call("backward", Z, dY), numeric,
                    f"{label}.backward (batch {shape[0]}, {shape[1]} columns)", hint)


def normalising_hint(Y) -> str:
    """Which axis a softmax output was normalised over, when it was not each row."""
    if not np.all(np.isfinite(Y)):
        return ""
    if np.isclose(Y.sum(), 1.0):
        return "your output sums to 1 over the whole array: divide each row by its own sum (axis=1, keepdims=True)"
    if Y.shape[0] > 1 and np.allclose(Y.sum(axis=0), 1.0):
        return "your columns sum to 1: normalise each row (axis=1, keepdims=True), not each column (axis=0)"
    return ""


def away_from_kink(Z):
    Z = np.array(Z)
    Z[np.abs(Z) < 1e-3] = 0.5  # ReLU is not differentiable at 0
    return Z


# ---- ReLU.forward -------------------------------------------------------------------------

@graded("1.1.1")
def test_relu_forward_prototype(student):
    """ReLU.forward: prototype forward(self, Z) returns an ndarray of Z's shape"""
    student.check_prototype("ReLU.forward")
    as_array(student.relu().call("forward", RELU_Z), RELU_Z.shape, "ReLU.forward")


@graded("1.1.2")
def test_relu_forward_batch_1(student):
    """ReLU.forward: batch 1, shape (1, 4) and values"""
    assert_close(student.relu().call("forward", RELU_Z[:1]), RELU_Y[:1], "ReLU.forward on a (1, 4) input")


@graded("1.1.3")
def test_relu_forward_values(student):
    """ReLU.forward: hand-checked values, batch 2, negatives, zero and positives"""
    assert_close(student.relu().call("forward", RELU_Z), RELU_Y, "ReLU.forward", "max(Z, 0) elementwise")


@graded("1.1.4")
def test_relu_forward_batch_8(student, rng):
    """ReLU.forward: batch 8, 5 features, values"""
    Z = rng.normal(size=(8, 5))
    assert_close(student.relu().call("forward", Z), Z * (Z > 0), "ReLU.forward on (8, 5)")


@graded("1.1.5")
def test_relu_forward_any_shape(student, rng):
    """ReLU.forward: elementwise on a 3-D array (4, 3, 2)"""
    Z = rng.normal(size=(4, 3, 2))
    assert_close(student.relu().call("forward", Z), Z * (Z > 0), "ReLU.forward on (4, 3, 2)",
                 "ReLU works elementwise on any shape")


@graded("1.1.6")
def test_relu_forward_leaves_input(student):
    """ReLU.forward: correct and leaves Z unmodified"""
    out, (Z_after,) = student.relu().call_echo("forward", RELU_Z.copy())
    assert_close(out, RELU_Y, "ReLU.forward")
    assert_unchanged(RELU_Z, Z_after, "ReLU.forward")


@graded("1.1.7")
def test_relu_forward_vectorised(student):
    """ReLU.forward: correct and vectorised, no loop over the batch"""
    assert_close(student.relu().call("forward", RELU_Z), RELU_Y, "ReLU.forward")
    student.check_no_batch_loop("ReLU.forward")


# ---- ReLU.backward ------------------------------------------------------------------------

@graded("1.1.9")
def test_relu_backward_prototype(student):
    """ReLU.backward: prototype backward(self, Z, dY) returns an ndarray of Z's shape"""
    student.check_prototype("ReLU.backward")
    as_array(student.relu().call("backward", RELU_Z, np.ones_like(RELU_Z)), RELU_Z.shape, "ReLU.backward")


@graded("1.1.10")
def test_relu_backward_values(student):
    """ReLU.backward: hand-checked values, dY * 1[Z > 0]"""
    dY = np.arange(1.0, 9.0).reshape(2, 4)
    expected = dY * (RELU_Z > 0)
    expected_other = dY * (RELU_Z >= 0)  # either subgradient at exactly 0
    got = student.relu().call("backward", RELU_Z, dY)
    if isinstance(got, np.ndarray) and got.shape == expected.shape and np.allclose(got, expected_other):
        return
    assert_close(got, expected, "ReLU.backward", "multiply dY by the mask (Z > 0)")


@graded("1.1.11")
def test_relu_backward_batch_1(student, rng):
    """ReLU.backward: batch 1, shape (1, 6)"""
    Z, dY = away_from_kink(rng.normal(size=(1, 6))), rng.normal(size=(1, 6))
    assert_close(student.relu().call("backward", Z, dY), dY * (Z > 0), "ReLU.backward on (1, 6)")


@graded("1.1.12")
def test_relu_backward_gradcheck_batch_1(student, rng):
    """ReLU.backward: gradient check against central differences, batch 1"""
    check_activation_gradient(student, "relu", rng, (1, 5))


@graded("1.1.13")
def test_relu_backward_gradcheck_batch_8(student, rng):
    """ReLU.backward: gradient check against central differences, batch 8, 6 features"""
    check_activation_gradient(student, "relu", rng, (8, 6))


@graded("1.1.14")
def test_relu_backward_leaves_inputs(student, rng):
    """ReLU.backward: correct and leaves Z and dY unmodified"""
    Z, dY = away_from_kink(rng.normal(size=(5, 3))), rng.normal(size=(5, 3))
    out, (Z_after, dY_after) = student.relu().call_echo("backward", Z, dY)
    assert_close(out, dY * (Z > 0), "ReLU.backward")
    assert_unchanged(Z, Z_after, "ReLU.backward (Z)")
    assert_unchanged(dY, dY_after, "ReLU.backward (dY)")


@graded("1.1.15")
def test_relu_backward_vectorised(student):
    """ReLU.backward: correct and vectorised, no loop over the batch"""
    Z = away_from_kink(RELU_Z)
    assert_close(student.relu().call("backward", Z, np.full_like(Z, 2.0)), 2.0 * (Z > 0), "ReLU.backward")
    student.check_no_batch_loop("ReLU.backward")


# ---- SoftMax.forward ----------------------------------------------------------------------

@graded("1.1.17")
def test_softmax_forward_prototype(student):
    """SoftMax.forward: prototype forward(self, Z) returns an ndarray of Z's shape"""
    student.check_prototype("SoftMax.forward")
    as_array(student.softmax().call("forward", SOFTMAX_Z), SOFTMAX_Z.shape, "SoftMax.forward")


@graded("1.1.18")
def test_softmax_forward_values(student):
    """SoftMax.forward: hand-checked values, batch 2, 3 classes"""
    assert_close(student.softmax().call("forward", SOFTMAX_Z), SOFTMAX_Y, "SoftMax.forward", SOFTMAX_HINT)


@graded("1.1.19")
def test_softmax_forward_batch_1(student):
    """SoftMax.forward: batch 1, shape (1, 3)"""
    assert_close(student.softmax().call("forward", SOFTMAX_Z[:1]), SOFTMAX_Y[:1], "SoftMax.forward on (1, 3)",
                 SOFTMAX_HINT)


@graded("1.1.20")
def test_softmax_forward_rows_are_distributions(student, rng):
    """SoftMax.forward: batch 8, 10 classes, rows positive and summing to 1"""
    Y = as_array(student.softmax().call("forward", rng.normal(size=(8, 10)) * 3), (8, 10), "SoftMax.forward")
    if not (np.all(Y > 0) and np.allclose(Y.sum(axis=1), 1.0, atol=1e-9)):
        fail("SoftMax.forward", "rows are not probability distributions", normalising_hint(Y),
             row_sums=np.array2string(Y.sum(axis=1), precision=4), smallest=f"{Y.min():.3g}")


@graded("1.1.21")
def test_softmax_forward_large_logits(student):
    """SoftMax.forward: numerically stable for logits of 1000"""
    Z = np.array([[1000.0, 1000.0, 999.0], [1000.0, 0.0, -1000.0]])
    e = np.exp([0.0, 0.0, -1.0])
    expected = np.array([e / e.sum(), [1.0, 0.0, 0.0]])
    assert_close(student.softmax().call("forward", Z), expected, "SoftMax.forward on logits near 1000", atol=1e-12,
                 nan_hint="subtract each row's maximum before np.exp, otherwise exp(1000) overflows")


ROW_MAX = ("subtract each row's own maximum (axis=1, keepdims=True) before np.exp: with one maximum for the "
           "whole batch, a row far below it underflows to 0 / 0")


@graded("1.1.22")
def test_softmax_forward_very_negative_logits(student):
    """SoftMax.forward: numerically stable for logits of -1000, and for rows of very different scales in one batch"""
    Z = np.array([[-1000.0, -1000.0], [-1000.0, -1001.0]])
    e = np.exp([0.0, -1.0])
    expected = np.array([[0.5, 0.5], e / e.sum()])
    assert_close(student.softmax().call("forward", Z), expected, "SoftMax.forward on logits near -1000",
                 nan_hint="subtract each row's maximum before np.exp, otherwise every exp underflows to 0")
    Z = np.log(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0], [1.0, 1.0, 2.0]])) + np.array([[1000.0], [-1000.0], [0.0]])
    expected = np.array([[1 / 6, 1 / 3, 1 / 2], [1 / 3, 1 / 3, 1 / 3], [1 / 4, 1 / 4, 1 / 2]])
    assert_close(student.softmax().call("forward", Z), expected,
                 "SoftMax.forward on rows of very different scales (near 1000, -1000 and 0)", nan_hint=ROW_MAX,
                 mistakes={ROW_MAX: np.where(np.arange(3)[:, None] == 0, expected, 0.0)})


@graded("1.1.23")
def test_softmax_forward_shift_invariant(student, rng):
    """SoftMax.forward: adding a constant to each row changes nothing"""
    sm = student.softmax()
    Z = rng.normal(size=(4, 5))
    shifts = rng.normal(size=(4, 1)) * 50
    shifted = sm.call("forward", Z + shifts)
    assert_close(shifted, sm.call("forward", Z), "SoftMax.forward of Z + c (per row)",
                 normalising_hint(shifted) if isinstance(shifted, np.ndarray) else "", rtol=1e-8)


@graded("1.1.24")
def test_softmax_forward_leaves_input(student):
    """SoftMax.forward: correct and leaves Z unmodified"""
    out, (Z_after,) = student.softmax().call_echo("forward", SOFTMAX_Z.copy())
    assert_close(out, SOFTMAX_Y, "SoftMax.forward", SOFTMAX_HINT)
    assert_unchanged(SOFTMAX_Z, Z_after, "SoftMax.forward")


@graded("1.1.25")
def test_softmax_forward_vectorised(student):
    """SoftMax.forward: correct and vectorised, no loop over the batch"""
    assert_close(student.softmax().call("forward", SOFTMAX_Z), SOFTMAX_Y, "SoftMax.forward", SOFTMAX_HINT)
    student.check_no_batch_loop("SoftMax.forward")


# ---- SoftMax.backward ---------------------------------------------------------------------

@graded("1.1.27")
def test_softmax_backward_prototype(student):
    """SoftMax.backward: prototype backward(self, Z, dY) returns an ndarray of Z's shape"""
    student.check_prototype("SoftMax.backward")
    as_array(student.softmax().call("backward", SOFTMAX_Z, np.ones_like(SOFTMAX_Z)), SOFTMAX_Z.shape,
             "SoftMax.backward")


@graded("1.1.28")
def test_softmax_backward_values(student):
    """SoftMax.backward: hand-checked values, batch 2, 3 classes"""
    dY = np.array([[1.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    # row 1: y * (dY - y.dY) with y = [1/6, 1/3, 1/2], y.dY = 1/6; row 2: y = 1/3 each, y.dY = 1
    expected = np.array([[5 / 36, -1 / 18, -1 / 12], [-1 / 3, 2 / 3, -1 / 3]])
    assert_close(student.softmax().call("backward", SOFTMAX_Z, dY), expected, "SoftMax.backward",
                 "apply each row's Jacobian diag(y) - y y^T to that row of dY")


@graded("1.1.29")
def test_softmax_backward_batch_1(student, rng):
    """SoftMax.backward: gradient check, batch 1, 3 classes"""
    check_activation_gradient(student, "softmax", rng, (1, 3))


@graded("1.1.30")
def test_softmax_backward_gradcheck_batch_8(student, rng):
    """SoftMax.backward: gradient check, batch 8, 10 classes"""
    check_activation_gradient(student, "softmax", rng, (8, 10))


@graded("1.1.31")
def test_softmax_backward_gradcheck_peaked(student, rng):
    """SoftMax.backward: gradient check, batch 3, 7 classes, peaked distributions"""
    check_activation_gradient(student, "softmax", rng, (3, 7), scale=4)


@graded("1.1.32")
def test_softmax_backward_leaves_inputs(student, rng):
    """SoftMax.backward: correct and leaves Z and dY unmodified"""
    Z, dY = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    out, (Z_after, dY_after) = student.softmax().call_echo("backward", Z, dY)
    assert_gradient(out, numerical_gradient(linear_probe(targets.forward(student, "softmax"), dY), Z),
                    "SoftMax.backward")
    assert_unchanged(Z, Z_after, "SoftMax.backward (Z)")
    assert_unchanged(dY, dY_after, "SoftMax.backward (dY)")


@graded("1.1.33")
def test_softmax_backward_rows_sum_to_zero(student, rng):
    """SoftMax.backward: each row of dL/dZ sums to 0, batch 6, 5 classes"""
    Z, dY = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    got = as_array(student.softmax().call("backward", Z, dY), Z.shape, "SoftMax.backward")
    if not np.allclose(got.sum(axis=1), 0.0, atol=1e-10):
        fail("SoftMax.backward", "rows of dL/dZ do not sum to 0",
             "every row of the softmax Jacobian diag(y) - y y^T sums to 0; apply it row by row",
             row_sums=np.array2string(got.sum(axis=1), precision=3))
