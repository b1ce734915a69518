"""The reference solution: hand-checked values, central-difference gradients, the loop rule, Iris accuracy."""

from __future__ import annotations

import time

import numpy as np
import pytest

from grader import REFERENCE_DIR
from test_specs.contract import VECTORISED_MEMBERS
from test_specs.support.gradcheck import TOLERANCE, linear_probe, numerical_gradient, relative_error
from test_specs.support.loops import batch_loops

rng = np.random.default_rng(1234)


# ---- hand-checked values ---------------------------------------------------------------------

def test_relu_hand_values(ref):
    Z = np.array([[-2.0, 0.0, 3.5], [1.0, -0.5, 0.25]])
    dY = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    relu = ref.activations.ReLU()
    np.testing.assert_array_equal(relu.forward(Z), [[0, 0, 3.5], [1, 0, 0.25]])
    np.testing.assert_array_equal(relu.backward(Z, dY), [[0, 0, 30], [40, 0, 60]])


def test_softmax_hand_values(ref):
    # exp of [0, ln 2, ln 3] is [1, 2, 3]: probabilities 1/6, 2/6, 3/6.
    Z = np.log(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    sm = ref.activations.SoftMax()
    np.testing.assert_allclose(sm.forward(Z), [[1 / 6, 1 / 3, 1 / 2], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-12)
    # y * (dY - y.dY) with dY = e_1: [1/6 * 5/6, 1/3 * -1/6, 1/2 * -1/6]
    dY = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(sm.backward(Z, dY), [[5 / 36, -1 / 18, -1 / 12], [0, 0, 0]], atol=1e-15)


def test_softmax_is_finite_for_large_logits(ref):
    sm = ref.activations.SoftMax()
    Z = np.array([[1000.0, 1000.0], [1000.0, 0.0], [-1000.0, -1000.0]])
    out = sm.forward(Z)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]], atol=1e-12)
    assert np.all(np.isfinite(sm.backward(Z, np.ones_like(Z))))


def test_cross_entropy_hand_values(ref):
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    Y_hat = np.array([[0.5, 0.5], [0.25, 0.75]])
    ce = ref.loss.CrossEntropyLoss()
    assert ce.forward(Y, Y_hat) == pytest.approx(-(np.log(0.5) + np.log(0.75)) / 2, rel=1e-12)
    np.testing.assert_allclose(ce.backward(Y, Y_hat), [[-1.0, 0.0], [0.0, -2 / 3]], rtol=1e-12)


def test_fully_connected_hand_values(ref):
    layer = ref.layers.FullyConnectedLayer(n_out=3, activation="relu")
    X = np.array([[1.0, 2.0], [-1.0, 3.0]])
    layer.forward(X)  # initialises n_in = 2
    layer.parameters["W"] = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])
    layer.parameters["b"] = np.array([[0.5, 0.0, -2.0]])
    # Z = [[1.5, 2, -1], [-0.5, 3, 2]] -> ReLU
    np.testing.assert_array_equal(layer.forward(X), [[1.5, 2.0, 0.0], [0.0, 3.0, 2.0]])
    dX = layer.backward(np.ones((2, 3)))
    # dLdZ = [[1, 1, 0], [0, 1, 1]]; dW = X^T dLdZ; db = column sums; dX = dLdZ W^T
    np.testing.assert_array_equal(layer.gradients["W"], [[1.0, 0.0, -1.0], [2.0, 5.0, 3.0]])
    np.testing.assert_array_equal(layer.gradients["b"], [[1.0, 2.0, 1.0]])
    np.testing.assert_array_equal(dX, [[1.0, 1.0], [-1.0, 2.0]])


# ---- central-difference gradients -------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "softmax", "linear"])
@pytest.mark.parametrize("shape", [(1, 3), (8, 5), (5, 10)])
def test_activation_gradients(ref, name, shape):
    act = ref.activations.initialize_activation(name)
    Z = rng.normal(size=shape) * 2
    Z[np.abs(Z) < 1e-3] = 0.5  # ReLU's kink is not differentiable
    dY = rng.normal(size=shape)
    numeric = numerical_gradient(linear_probe(act.forward, dY), Z)
    assert relative_error(act.backward(Z, dY), numeric) < TOLERANCE


@pytest.mark.parametrize("shape", [(1, 3), (8, 5), (6, 10)])
def test_cross_entropy_gradient(ref, shape):
    ce = ref.loss.CrossEntropyLoss()
    Y = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    Y_hat = rng.uniform(0.05, 1.0, shape)
    numeric = numerical_gradient(lambda P: ce.forward(Y, P), Y_hat)
    assert relative_error(ce.backward(Y, Y_hat), numeric) < TOLERANCE


@pytest.mark.parametrize("activation", ["relu", "softmax", "linear"])
@pytest.mark.parametrize("m,n_in,n_out", [(1, 4, 7), (6, 4, 7), (9, 5, 2)])
def test_fully_connected_gradients(ref, activation, m, n_in, n_out):
    layer = ref.layers.FullyConnectedLayer(n_out=n_out, activation=activation)
    X = rng.normal(size=(m, n_in))
    dY = rng.normal(size=(m, n_out))
    layer.forward(X)
    layer.parameters["b"] = rng.normal(size=(1, n_out))
    layer.forward(X)
    dX = layer.backward(dY)
    W, b = layer.parameters["W"].copy(), layer.parameters["b"].copy()

    def with_params(W_, b_):
        layer.parameters["W"], layer.parameters["b"] = W_, b_
        return layer.forward(X)

    num_X = numerical_gradient(linear_probe(layer.forward, dY), X)
    num_W = numerical_gradient(linear_probe(lambda W_: with_params(W_, b), dY), W)
    num_b = numerical_gradient(linear_probe(lambda b_: with_params(W, b_), dY), b)
    assert relative_error(dX, num_X) < TOLERANCE
    assert relative_error(layer.gradients["W"], num_W) < TOLERANCE
    assert relative_error(layer.gradients["b"], num_b) < TOLERANCE


def test_model_gradients(ref):
    layer_args = [{"name": "fully_connected", "n_out": 6, "activation": "relu"},
                  {"name": "fully_connected", "n_out": 3, "activation": "softmax"}]
    model = ref.model.NeuralNetworkModel("cross_entropy", layer_args, {"name": "SGD", "lr": 0.1}, seed=3)
    X = rng.normal(size=(5, 4))
    Y = np.eye(3)[[0, 1, 2, 1, 0]]
    model.backward(Y, model.forward(X))
    for layer in model.layers:
        for name, param in layer.parameters.items():
            analytic = layer.gradients[name].copy()

            def loss_at(value, layer=layer, name=name):
                layer.parameters[name] = value
                return model.loss.forward(Y, model.forward(X))

            numeric = numerical_gradient(loss_at, param)
            layer.parameters[name] = param
            assert relative_error(analytic, numeric) < TOLERANCE, name


# ---- the loop rule ----------------------------------------------------------------------------

@pytest.mark.parametrize("module,member", VECTORISED_MEMBERS)
def test_reference_members_do_not_loop_over_the_batch(module, member):
    source = (REFERENCE_DIR / f"{module}.py").read_text()
    assert batch_loops(source, member) == []


def test_loop_rule_flags_row_loops():
    source = '''
import numpy as np
class ReLU:
    def forward(self, Z):
        m = Z.shape[0]
        return np.array([self._row(Z[i]) for i in range(m)])
    def _row(self, z):
        return np.maximum(z, 0)
    def backward(self, Z, dY):
        out = np.empty_like(Z)
        for i, (z, d) in enumerate(zip(Z, dY)):
            out[i] = d * (z > 0)
        return out
class SoftMax:
    def forward(self, Z):
        out = []
        i = 0
        while i < len(Z):
            out.append(np.exp(Z[i]) / np.exp(Z[i]).sum()); i += 1
        return np.array(out)
    def backward(self, Z, dY):
        return np.apply_along_axis(lambda r: r, 1, Z)
    def columns(self, Z):
        return [Z[:, j].sum() for j in range(Z.shape[1])]
'''
    assert [f.line for f in batch_loops(source, "ReLU.forward")] == [6]
    assert [f.line for f in batch_loops(source, "ReLU.backward")] == [11]
    assert [f.line for f in batch_loops(source, "SoftMax.forward")] == [18]
    assert [f.line for f in batch_loops(source, "SoftMax.backward")] == [22]
    assert batch_loops(source, "SoftMax.columns") == []  # a loop over classes is allowed


# ---- end to end -------------------------------------------------------------------------------

def test_reference_model_learns_iris(ref):
    start = time.perf_counter()
    data = ref.util.Dataset(str(REFERENCE_DIR / "data" / "iris.csv"), batch_size=16, seed=0)
    layer_args = [{"name": "fully_connected", "n_out": 16, "activation": "relu"},
                  {"name": "fully_connected", "n_out": 3, "activation": "softmax"}]
    model = ref.model.NeuralNetworkModel("cross_entropy", layer_args, {"name": "SGD", "lr": 0.05, "momentum": 0.9},
                                         seed=0)
    model.train(data, epochs=60)
    accuracy = 1 - model.test(data)
    elapsed = time.perf_counter() - start
    assert accuracy >= 0.90
    assert elapsed < 10
