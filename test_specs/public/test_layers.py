"""Section 1.1: FullyConnectedLayer (visible tests)."""

import numpy as np
import pytest

from test_specs.support import targets
from test_specs.support.compare import as_array, assert_close, assert_gradient, assert_unchanged, fail
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


@pytest.fixture(scope="module")
def act(student) -> str:
    return student.layer_activation()


def random_layer(student, rng, m, n_in, n_out, activation):
    W_, b_ = rng.normal(size=(n_in, n_out)), rng.normal(size=(1, n_out))
    return student.layer_with(W_, b_, activation), rng.normal(size=(m, n_in)), W_, b_


def ready_for_backward(layer, X_, W_, b_, act):
    """Run the student's forward (it may cache more), then put the true X and Z in the cache.

    Backward is then judged on its own: a forward bug is charged to forward alone.
    """
    try:
        layer.call("forward", X_)
    except Exception:  # noqa: BLE001 - the forward's own tests report it
        pass
    layer.set("cache", "X", value=X_)
    layer.set("cache", "Z", value=X_ @ W_ + b_)
    return layer


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
    shapes = {k: getattr(v, "shape", None) for k, v in params.items()} if isinstance(params, dict) else params
    if n_in != 4 or shapes != {"W": (4, 7), "b": (1, 7)}:
        fail("FullyConnectedLayer.forward", "parameters not initialised from the first input",
             "call self._init_parameters(X.shape) when self.n_in is None",
             expected="n_in 4, W (4, 7), b (1, 7)", got=f"n_in {n_in!r}, {shapes}")


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


@graded("1.1.39")
def test_fc_forward_single_output(student, rng):
    """FullyConnectedLayer.forward: a single output unit, W (6, 1), batch 3"""
    layer, X_, W_, b_ = random_layer(student, rng, 3, 6, 1, "linear")
    assert_close(layer.call("forward", X_), X_ @ W_ + b_, "FullyConnectedLayer.forward (n_out = 1)", FORWARD_HINT)


@graded("1.1.40")
def test_fc_forward_batch_1(student, rng):
    """FullyConnectedLayer.forward: batch 1, non-square W (4, 7)"""
    layer, X_, W_, b_ = random_layer(student, rng, 1, 4, 7, "linear")
    assert_close(layer.call("forward", X_), X_ @ W_ + b_, "FullyConnectedLayer.forward (batch 1)", FORWARD_HINT)


@graded("1.1.41")
def test_fc_forward_batch_8(student, rng):
    """FullyConnectedLayer.forward: batch 8, non-square W (5, 3)"""
    layer, X_, W_, b_ = random_layer(student, rng, 8, 5, 3, "linear")
    assert_close(layer.call("forward", X_), X_ @ W_ + b_, "FullyConnectedLayer.forward (batch 8)", FORWARD_HINT)


@graded("1.1.42")
def test_fc_forward_caches(student, act):
    """FullyConnectedLayer.forward: caches X and Z for the backward pass"""
    layer = student.layer_with(W, B, act)
    layer.call("forward", X)
    cache = layer.get("cache")
    if not isinstance(cache, dict) or "X" not in cache or "Z" not in cache:
        fail("FullyConnectedLayer.forward", "cache does not hold both 'X' and 'Z'",
             'store self.cache["X"] = X and self.cache["Z"] = Z',
             got=f"keys {sorted(cache) if isinstance(cache, dict) else cache!r}")
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
    """FullyConnectedLayer.forward: correct and leaves X and the parameters unmodified"""
    layer = student.layer_with(W, B, act)
    out, (X_after,) = layer.call_echo("forward", X.copy())
    assert_close(out, HAND[act]["Y"], "FullyConnectedLayer.forward", FORWARD_HINT)
    assert_unchanged(X, X_after, "FullyConnectedLayer.forward (X)")
    assert_unchanged(W, layer.get("parameters", "W"), "FullyConnectedLayer.forward (W)")


@graded("1.1.45")
def test_fc_forward_vectorised(student, act):
    """FullyConnectedLayer.forward: correct and vectorised, no loop over the batch"""
    assert_close(student.layer_with(W, B, act).call("forward", X), HAND[act]["Y"], "FullyConnectedLayer.forward")
    student.check_no_batch_loop("FullyConnectedLayer.forward")


# ---- FullyConnectedLayer.backward ---------------------------------------------------------

def layer_after_forward(student, act):
    return ready_for_backward(student.layer_with(W, B, act), X, W, B, act)


@graded("1.1.47")
def test_fc_backward_prototype(student, act):
    """FullyConnectedLayer.backward: prototype backward(self, dLdY) returns dX of shape (m, n_in)"""
    student.check_prototype("FullyConnectedLayer.backward")
    as_array(layer_after_forward(student, act).call("backward", UPSTREAM), X.shape, "FullyConnectedLayer.backward",
             "return dL/dX = dLdZ @ W.T, shape (m, n_in)")


@graded("1.1.48")
def test_fc_backward_dW_values(student, act):
    """FullyConnectedLayer.backward: hand-checked gradients['W'], ReLU"""
    layer = layer_after_forward(student, act)
    layer.call("backward", UPSTREAM)
    assert_close(layer.get("gradients", "W"), HAND[act]["W"], "gradients['W']",
                 "dLdZ = activation.backward(Z, dLdY); gradients['W'] = X.T @ dLdZ")


@graded("1.1.49")
def test_fc_backward_db_values(student, act):
    """FullyConnectedLayer.backward: hand-checked gradients['b'] of shape (1, n_out)"""
    layer = layer_after_forward(student, act)
    layer.call("backward", UPSTREAM)
    assert_close(layer.get("gradients", "b"), HAND[act]["b"], "gradients['b']",
                 "sum dLdZ over the batch with keepdims=True: shape (1, n_out)")


@graded("1.1.50")
def test_fc_backward_dX_values(student, act):
    """FullyConnectedLayer.backward: hand-checked dL/dX"""
    assert_close(layer_after_forward(student, act).call("backward", UPSTREAM), HAND[act]["X"], "dL/dX",
                 "return dLdZ @ W.T")


def check_batch_8_gradient(student, rng, act, which: str) -> None:
    """One of dW, db, dX of a ReLU layer, batch 8, non-square W (4, 6), against central differences."""
    layer, X_, W_, b_ = random_layer(student, rng, 8, 4, 6, act)
    upstream = rng.normal(size=(8, 6))
    numeric = dict(zip("XWb", gradients_by_differences(student, X_, W_, b_, upstream, act)))[which]
    dX = ready_for_backward(layer, X_, W_, b_, act).call("backward", upstream)
    analytic = dX if which == "X" else layer.get("gradients", which)
    assert_gradient(analytic, numeric, ("dL/dX" if which == "X" else f"gradients['{which}']") + f" ({act}, batch 8)")


@graded("1.1.51")
def test_fc_backward_gradcheck_dW(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of dW, ReLU, batch 8, non-square W (4, 6)"""
    check_batch_8_gradient(student, rng, act, "W")


@graded("1.1.52")
def test_fc_backward_gradcheck_db(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of db, ReLU, batch 8, non-square W (4, 6)"""
    check_batch_8_gradient(student, rng, act, "b")


@graded("1.1.53")
def test_fc_backward_gradcheck_dX(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of dX, ReLU, batch 8, non-square W (4, 6)"""
    check_batch_8_gradient(student, rng, act, "X")


@graded("1.1.54")
def test_fc_backward_gradcheck_batch_1(student, rng, act):
    """FullyConnectedLayer.backward: gradient check of dW, db and dX, ReLU, batch 1, W (5, 3)"""
    layer, X_, W_, b_ = random_layer(student, rng, 1, 5, 3, act)
    upstream = rng.normal(size=(1, 3))
    num_X, num_W, num_b = gradients_by_differences(student, X_, W_, b_, upstream, act)
    dX = ready_for_backward(layer, X_, W_, b_, act).call("backward", upstream)
    assert_gradient(layer.get("gradients", "W"), num_W, "gradients['W'] (batch 1)")
    assert_gradient(layer.get("gradients", "b"), num_b, "gradients['b'] (batch 1)")
    assert_gradient(dX, num_X, "dL/dX (batch 1)")


@graded("1.1.55")
def test_fc_backward_gradient_shapes(student, rng, act):
    """FullyConnectedLayer.backward: gradients hold W (n_in, n_out) and b (1, n_out)"""
    layer, X_, W_, b_ = random_layer(student, rng, 3, 6, 2, act)
    ready_for_backward(layer, X_, W_, b_, act).call("backward", rng.normal(size=(3, 2)))
    as_array(layer.get("gradients", "W"), (6, 2), "gradients['W']")
    as_array(layer.get("gradients", "b"), (1, 2), "gradients['b']", "keep b's gradient 2-D: keepdims=True")


@graded("1.1.56")
def test_fc_backward_overwrites(student, rng):
    """FullyConnectedLayer.backward: each call overwrites the gradients (no accumulation)"""
    layer, X_, W_, b_ = random_layer(student, rng, 4, 3, 2, "linear")
    upstream = rng.normal(size=(4, 2))
    ready_for_backward(layer, X_, W_, b_, "linear").call("backward", upstream)
    first = layer.get("gradients", "W")
    layer.call("backward", upstream)
    assert_close(layer.get("gradients", "W"), first, "gradients['W'] after a second identical backward",
                 "assign the gradients (=), do not add to them (+=)")


@graded("1.1.57")
def test_fc_backward_leaves_inputs(student, rng, act):
    """FullyConnectedLayer.backward: correct and leaves dLdY and the parameters unmodified"""
    layer, X_, W_, b_ = random_layer(student, rng, 5, 3, 4, act)
    ready_for_backward(layer, X_, W_, b_, act)
    upstream = rng.normal(size=(5, 4))
    dX, (upstream_after,) = layer.call_echo("backward", upstream)
    assert_gradient(dX, gradients_by_differences(student, X_, W_, b_, upstream, act)[0], "dL/dX")
    assert_unchanged(upstream, upstream_after, "FullyConnectedLayer.backward (dLdY)")
    assert_unchanged(W_, layer.get("parameters", "W"), "FullyConnectedLayer.backward (W)")
    assert_unchanged(b_, layer.get("parameters", "b"), "FullyConnectedLayer.backward (b)")


@graded("1.1.58")
def test_fc_backward_vectorised(student, act):
    """FullyConnectedLayer.backward: correct and vectorised, no loop over the batch"""
    assert_close(layer_after_forward(student, act).call("backward", UPSTREAM), HAND[act]["X"], "dL/dX")
    student.check_no_batch_loop("FullyConnectedLayer.backward")
