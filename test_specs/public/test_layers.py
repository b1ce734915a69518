"""Section 1.1: FullyConnectedLayer (visible tests)."""

import numpy as np
import pytest

from test_specs.support import targets
from test_specs.support.backward import after_forward, gradient, noted
from test_specs.support.collaborators import Collaborators, call
from test_specs.support.compare import as_array, assert_close, assert_gradient, assert_unchanged, fail, shown
from test_specs.support.gradcheck import linear_probe, numerical_gradient
from test_specs.support.graded import graded

X = np.array([[1.0, 2.0], [-1.0, 3.0]])
W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])
B = np.array([[0.5, 0.0, -2.0]])
Z = np.array([[1.5, 2.0, -1.0], [-0.5, 3.0, 2.0]])       # X W + b, by hand
UPSTREAM = np.ones((2, 3))
# By hand, per activation: output, and dW = X^T dLdZ, db = column sums of dLdZ, dX = dLdZ W^T
# (for ReLU, dLdZ = [[1, 1, 0], [0, 1, 1]]; for the identity, dLdZ = UPSTREAM).
HAND = {
    "relu": {"Y": np.maximum(Z, 0), "W": np.array([[1.0, 0.0, -1.0], [2.0, 5.0, 3.0]]),
             "b": np.array([[1.0, 2.0, 1.0]]), "X": np.array([[1.0, 1.0], [-1.0, 2.0]])},
    "linear": {"Y": Z, "W": np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]),
               "b": np.array([[2.0, 2.0, 2.0]]), "X": np.array([[0.0, 2.0], [0.0, 2.0]])},
}
FORWARD_HINT = "Z = X @ W + b (b broadcasts over the rows), then apply the layer's activation"
# A softmax layer by hand: W is chosen so that Z = X W + b has rows of very different scales (a row shifted by
# 500), whose softmax is [1/6, 1/3, 1/2] and uniform; dLdZ of the upstream SM_UP is each row's Jacobian times it.
SM_X, SM_B = np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[0.5, -1.0, 2.0]])
SM_Z = np.log(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]])) + np.array([[500.0], [0.0]])
SM_W = np.linalg.solve(SM_X, SM_Z - SM_B)
SM_Y = np.array([[1 / 6, 1 / 3, 1 / 2], [1 / 3, 1 / 3, 1 / 3]])
SM_UP = np.array([[1.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
SM_DZ = np.array([[5 / 36, -1 / 18, -1 / 12], [-1 / 3, 2 / 3, -1 / 3]])
STAND_IN = ("your SoftMax fails its own tests, so this layer's activation was a stand-in answering as the "
            "contract's softmax")


@pytest.fixture(scope="module")
def act(student) -> str:
    return student.layer_activation()


def random_layer(student, rng, m, n_in, n_out, activation):
    W_, b_ = rng.normal(size=(n_in, n_out)), rng.normal(size=(1, n_out))
    return student.layer_with(W_, b_, activation), rng.normal(size=(m, n_in)), W_, b_


def ready_for_backward(layer, X_, W_, b_, act) -> str:
    """The student's own forward, then backward on its cache (support/backward.py); the note if the test filled it."""
    Z_ = X_ @ W_ + b_
    return after_forward(layer, X_, W_, b_, Z_ * (Z_ > 0) if act == "relu" else Z_)


def gradients_by_differences(student, X_, W_, b_, upstream, act):
    """Central differences of sum(act(X W + b) * upstream) w.r.t. X, W and b (the contract's layer)."""
    f = targets.forward(student, act)
    num_X = numerical_gradient(linear_probe(lambda x: f(x @ W_ + b_), upstream), X_)
    num_W = numerical_gradient(linear_probe(lambda w: f(X_ @ w + b_), upstream), W_)
    num_b = numerical_gradient(linear_probe(lambda b: f(X_ @ W_ + b), upstream), b_)
    return num_X, num_W, num_b


# ---- FullyConnectedLayer.forward ----------------------------------------------------------

@graded("1.1.35")
def test_fc_forward_prototype(student):
    """FullyConnectedLayer.forward: prototype forward(self, X) returns an ndarray of shape (m, n_out)"""
    student.check_prototype("FullyConnectedLayer.forward")
    as_array(student.layer_with(W, B, "linear").call("forward", X), (2, 3), "FullyConnectedLayer.forward")


@graded("1.1.36")
def test_fc_forward_initialises(student, rng):
    """FullyConnectedLayer.forward: first call sets n_in, W (n_in, n_out) and b (1, n_out)"""
    layer = student.layer(7, "relu")
    layer.call("forward", rng.normal(size=(5, 4)))
    n_in, params = layer.get("n_in"), layer.get("parameters")
    shapes = {k: getattr(v, "shape", None) for k, v in params.items()} if isinstance(params, dict) else None
    if n_in != 4 or shapes != {"W": (4, 7), "b": (1, 7)}:
        got = ", ".join(f"{k} {v}" for k, v in shapes.items()) if shapes is not None else shown(params)
        fail("FullyConnectedLayer.forward", "parameters not initialised from the first input",
             "call self._init_parameters(X.shape) when self.n_in is None",
             expected="n_in 4, W (4, 7), b (1, 7)", got=f"n_in {shown(n_in)}, {got}")


@graded("1.1.37")
def test_fc_forward_linear_values(student):
    """FullyConnectedLayer.forward: hand-checked values, linear activation"""
    assert_close(student.layer_with(W, B, "linear").call("forward", X), Z, "FullyConnectedLayer.forward (linear)",
                 FORWARD_HINT)


@graded("1.1.38")
def test_fc_forward_relu_values(student, act):
    """FullyConnectedLayer.forward: hand-checked values, ReLU activation"""
    assert_close(student.layer_with(W, B, act).call("forward", X), HAND[act]["Y"],
                 f"FullyConnectedLayer.forward ({act})", FORWARD_HINT)


def softmax_layer(student):
    """A layer with the softmax activation and SM_W, SM_B: the student's own SoftMax where it passes its probe,
    else a stand-in answering as the contract's softmax on this test's Z (the note says which)."""
    broken = student.broken_members()  # first: its probes may replace the worker (a crash), never under the layer
    layer = student.layer_with(SM_W, SM_B, "softmax")
    if "SoftMax" not in broken:
        return layer, ""
    stand_in = Collaborators(student, {"softmax": [call("forward", [SM_Z], SM_Y),
                                                   call("backward", [SM_Z, SM_UP], SM_DZ)]})
    layer.set("activation", value=stand_in.handle("softmax"))
    layer.stand_in = stand_in  # keeps the stand-in's journal reachable while the layer is used
    return layer, STAND_IN


@graded("1.1.39")
def test_fc_forward_softmax(student):
    """FullyConnectedLayer.forward: softmax activation, rows of very different scales"""
    layer, note = softmax_layer(student)
    with noted(note):
        assert_close(layer.call("forward", SM_X), SM_Y, "FullyConnectedLayer.forward (softmax activation)",
                     FORWARD_HINT)


@graded("1.1.40")
def test_fc_forward_batch_1(student, rng):
    """FullyConnectedLayer.forward: batch 1, non-square W (4, 7)"""
    layer, X_, W_, b_ = random_layer(student, rng, 1, 4, 7, "linear")
    assert_close(layer.call("forward", X_), X_ @ W_ + b_, "FullyConnectedLayer.forward (batch 1)", FORWARD_HINT)


@graded("1.1.41")
def test_fc_forward_batch_8(student, rng):
    """FullyConnectedLayer.forward: batch 8, non-square W (5, 3), and a single output unit, W (6, 1)"""
    layer, X_, W_, b_ = random_layer(student, rng, 8, 5, 3, "linear")
    assert_close(layer.call("forward", X_), X_ @ W_ + b_, "FullyConnectedLayer.forward (batch 8)", FORWARD_HINT)
    layer, X_, W_, b_ = random_layer(student, rng, 3, 6, 1, "linear")
    assert_close(layer.call("forward", X_), X_ @ W_ + b_, "FullyConnectedLayer.forward (n_out = 1)", FORWARD_HINT)


@graded("1.1.42")
def test_fc_forward_caches(student, act):
    """FullyConnectedLayer.forward: caches X and Z for the backward pass"""
    layer = student.layer_with(W, B, act)
    layer.call("forward", X)
    cache = layer.get("cache")
    if not isinstance(cache, dict) or "X" not in cache or "Z" not in cache:
        fail("FullyConnectedLayer.forward", "cache does not hold both 'X' and 'Z'",
             'store self.cache["X"] = X and self.cache["Z"] = Z',
             got=f"keys {list(cache)}" if isinstance(cache, dict) else shown(cache))
    assert_close(cache["X"], X, "FullyConnectedLayer.cache['X']")
    assert_close(cache["Z"], Z, "FullyConnectedLayer.cache['Z']", "cache Z = X W + b, before the activation")


@graded("1.1.43")
def test_fc_forward_keeps_parameters(student, rng):
    """FullyConnectedLayer.forward: a second call keeps the parameters (no re-initialisation)"""
    layer = student.layer(3, "relu")
    layer.call("forward", rng.normal(size=(4, 2)))
    W_first = layer.get("parameters", "W")
    layer.call("forward", rng.normal(size=(6, 2)))
    assert_close(layer.get("parameters", "W"), W_first, "W after a second forward pass",
                 "initialise only when self.n_in is None", rtol=0, atol=0)


@graded("1.1.44")
def test_fc_forward_leaves_input(student, act):
    """FullyConnectedLayer.forward: correct and leaves X, W and b unmodified"""
    layer = student.layer_with(W, B, act)
    out, (X_after,) = layer.call_echo("forward", X.copy())
    assert_close(out, HAND[act]["Y"], "FullyConnectedLayer.forward", FORWARD_HINT)
    assert_unchanged(X, X_after, "FullyConnectedLayer.forward (X)")
    assert_unchanged(W, layer.get("parameters", "W"), "FullyConnectedLayer.forward (W)")
    assert_unchanged(B, layer.get("parameters", "b"), "FullyConnectedLayer.forward (b)")


@graded("1.1.45")
def test_fc_forward_vectorised(student, act):
    """FullyConnectedLayer.forward: correct and vectorised, no loop over the batch"""
    assert_close(student.layer_with(W, B, act).call("forward", X), HAND[act]["Y"], "FullyConnectedLayer.forward")
    student.check_no_batch_loop("FullyConnectedLayer.forward")


# ---- FullyConnectedLayer.backward ---------------------------------------------------------
# Backward runs after the student's own forward (support/backward.py): the cache is the test's only where
# that forward fails, and every failure then says so.

def layer_after_forward(student, act):
    layer = student.layer_with(W, B, act)
    return layer, ready_for_backward(layer, X, W, B, act)


@graded("1.1.47")
def test_fc_backward_prototype(student, act):
    """FullyConnectedLayer.backward: prototype backward(self, dLdY) returns dX of shape (m, n_in)"""
    student.check_prototype("FullyConnectedLayer.backward")
    layer, note = layer_after_forward(student, act)
    with noted(note):
        as_array(layer.call("backward", UPSTREAM), X.shape, "FullyConnectedLayer.backward (dL/dX)")


@graded("1.1.48")
def test_fc_backward_dW_values(student, act):
    """FullyConnectedLayer.backward: hand-checked gradients['W'], ReLU"""
    layer, note = layer_after_forward(student, act)
    with noted(note):
        layer.call("backward", UPSTREAM)
        assert_close(gradient(layer, "W"), HAND[act]["W"], "gradients['W']",
                     "dLdZ = activation.backward(Z, dLdY); gradients['W'] = X.T @ dLdZ", batch=2)


@graded("1.1.49")
def test_fc_backward_db_values(student, act):
    """FullyConnectedLayer.backward: hand-checked gradients['b'] of shape (1, n_out)"""
    layer, note = layer_after_forward(student, act)
    with noted(note):
        layer.call("backward", UPSTREAM)
        assert_close(gradient(layer, "b"), HAND[act]["b"], "gradients['b']",
                     "gradients['b'] = the column sums of dLdZ, shape (1, n_out)", batch=2)


@graded("1.1.50")
def test_fc_backward_dX_values(student, act):
    """FullyConnectedLayer.backward: hand-checked dL/dX"""
    layer, note = layer_after_forward(student, act)
    with noted(note):
        assert_close(layer.call("backward", UPSTREAM), HAND[act]["X"], "dL/dX", "return dLdZ @ W.T", batch=2)


def check_batch_8_gradient(student, rng, act, which: str) -> None:
    """One of dW, db, dX of a ReLU layer, batch 8, non-square W (4, 6), against central differences."""
    layer, X_, W_, b_ = random_layer(student, rng, 8, 4, 6, act)
    upstream = rng.normal(size=(8, 6))
    numeric = dict(zip("XWb", gradients_by_differences(student, X_, W_, b_, upstream, act)))[which]
    note = ready_for_backward(layer, X_, W_, b_, act)
    with noted(note):
        dX = layer.call("backward", upstream)
        analytic = dX if which == "X" else gradient(layer, which)
        assert_gradient(analytic, numeric, ("dL/dX" if which == "X" else f"gradients['{which}']")
                        + f" ({act}, batch 8)", batch=8)


@graded("1.1.51")
def test_fc_backward_gradcheck_dW(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of dW, ReLU, batch 8, non-square W (4, 6)"""
    check_batch_8_gradient(student, rng, act, "W")


@graded("1.1.52")
def test_fc_backward_gradcheck_db(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of db, ReLU, batch 8, non-square W (4, 6)"""
    check_batch_8_gradient(student, rng, act, "b")


@graded("1.1.53")
def test_fc_backward_softmax(student):
    """FullyConnectedLayer.backward: softmax activation, dW, db and dX by hand"""
    layer, note = softmax_layer(student)
    note = " ".join(n for n in (note, after_forward(layer, SM_X, SM_W, SM_B, SM_Y)) if n)
    with noted(note):
        dX = layer.call("backward", SM_UP)
        assert_close(gradient(layer, "W"), SM_X.T @ SM_DZ, "gradients['W'] (softmax activation)", batch=2)
        assert_close(gradient(layer, "b"), SM_DZ.sum(axis=0, keepdims=True), "gradients['b'] (softmax activation)",
                     batch=2)
        assert_close(dX, SM_DZ @ SM_W.T, "dL/dX (softmax activation)", batch=2)


@graded("1.1.54")
def test_fc_backward_gradcheck_batch_1(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of dW, db and dX, ReLU, batch 1, W (5, 3)"""
    layer, X_, W_, b_ = random_layer(student, rng, 1, 5, 3, act)
    upstream = rng.normal(size=(1, 3))
    num_X, num_W, num_b = gradients_by_differences(student, X_, W_, b_, upstream, act)
    note = ready_for_backward(layer, X_, W_, b_, act)
    with noted(note):
        dX = layer.call("backward", upstream)
        assert_gradient(gradient(layer, "W"), num_W, "gradients['W'] (batch 1)")
        assert_gradient(gradient(layer, "b"), num_b, "gradients['b'] (batch 1)")
        assert_gradient(dX, num_X, "dL/dX (batch 1)")


@graded("1.1.55")
def test_fc_backward_gradient_shapes(student, rng, act):
    """FullyConnectedLayer.backward: gradients hold W (n_in, n_out) and b (1, n_out)"""
    layer, X_, W_, b_ = random_layer(student, rng, 3, 6, 2, act)
    note = ready_for_backward(layer, X_, W_, b_, act)
    with noted(note):
        layer.call("backward", rng.normal(size=(3, 2)))
        as_array(gradient(layer, "W"), (6, 2), "gradients['W']")
        as_array(gradient(layer, "b"), (1, 2), "gradients['b']")


@graded("1.1.56")
def test_fc_backward_overwrites(student, rng):
    """FullyConnectedLayer.backward: each call overwrites the gradients (no accumulation), W and b"""
    layer, X_, W_, b_ = random_layer(student, rng, 4, 3, 2, "linear")
    first, second = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    note = ready_for_backward(layer, X_, W_, b_, "linear")
    with noted(note):
        for upstream in (first, second, second):
            layer.call("backward", upstream)
        for name, of in (("W", lambda u: X_.T @ u), ("b", lambda u: u.sum(axis=0, keepdims=True))):
            mistakes = {"assign the gradients (=), do not add to them (+=): each backward replaces them":
                        of(first) + 2 * of(second),
                        "these are the first call's gradients: each backward must replace them": of(first)}
            assert_close(gradient(layer, name), of(second), f"gradients['{name}'] after three backward calls",
                         mistakes=mistakes, batch=4)


@graded("1.1.57")
def test_fc_backward_leaves_inputs(student, rng, act):
    """FullyConnectedLayer.backward: correct and leaves dLdY, the cache and the parameters unmodified"""
    layer, X_, W_, b_ = random_layer(student, rng, 5, 3, 4, act)
    note = ready_for_backward(layer, X_, W_, b_, act)
    upstream = rng.normal(size=(5, 4))
    with noted(note):
        dX, (upstream_after,) = layer.call_echo("backward", upstream)
        assert_gradient(dX, gradients_by_differences(student, X_, W_, b_, upstream, act)[0], "dL/dX", batch=5)
        assert_unchanged(upstream, upstream_after, "FullyConnectedLayer.backward (dLdY)")
        assert_unchanged(W_, layer.get("parameters", "W"), "FullyConnectedLayer.backward (W)")
        assert_unchanged(b_, layer.get("parameters", "b"), "FullyConnectedLayer.backward (b)")
        dX_again = layer.call("backward", upstream)
        assert_close(dX_again, dX, "dL/dX of a second identical backward",
                     "backward must not change what it reads (the cache, the parameters)")


@graded("1.1.58")
def test_fc_backward_vectorised(student, act):
    """FullyConnectedLayer.backward: correct and vectorised, no loop over the batch"""
    layer, note = layer_after_forward(student, act)
    with noted(note):
        assert_close(layer.call("backward", UPSTREAM), HAND[act]["X"], "dL/dX")
    student.check_no_batch_loop("FullyConnectedLayer.backward")
