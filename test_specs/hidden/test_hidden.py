"""Section 1.1 hidden tests: random inputs from the submission's seed, compared with the trusted oracle."""

import numpy as np

from test_specs.hidden import oracle
from test_specs.rubric import HIDDEN
from test_specs.support.backward import after_forward, gradient, noted
from test_specs.support.compare import assert_close, assert_scalar
from test_specs.support.graded import graded
from test_specs.support.tolerances import grad_rtol, log_slack


def batch(rng, low=2, high=17):
    return int(rng.integers(low, high))


@graded("1.1.8", visible=HIDDEN)
def test_hidden_relu_forward(student, rng):
    """ReLU.forward: hidden random batch against the oracle"""
    Z = rng.normal(size=(batch(rng), 7)) * 3
    assert_close(student.relu().call("forward", Z), oracle.relu(Z), "ReLU.forward (hidden input)")


@graded("1.1.16", visible=HIDDEN)
def test_hidden_relu_backward(student, rng):
    """ReLU.backward: hidden random batch against the oracle"""
    Z, dY = rng.normal(size=(batch(rng), 9)), rng.normal(size=(1, 9)) * np.ones((1, 1))
    dY = np.repeat(dY, Z.shape[0], axis=0) + rng.normal(size=Z.shape)
    assert_close(student.relu().call("backward", Z, dY), oracle.relu_grad(Z, dY), "ReLU.backward (hidden input)")


@graded("1.1.26", visible=HIDDEN)
def test_hidden_softmax_forward(student, rng):
    """SoftMax.forward: hidden batch of 10-class logits against the oracle"""
    Z = rng.normal(size=(batch(rng), 10)) * 10
    assert_close(student.softmax().call("forward", Z), oracle.softmax(Z), "SoftMax.forward (hidden input)")


@graded("1.1.34", visible=HIDDEN)
def test_hidden_softmax_backward(student, rng):
    """SoftMax.backward: hidden batch of 10-class logits against the oracle's Jacobians"""
    Z, dY = rng.normal(size=(batch(rng), 10)) * 3, rng.normal(size=(1, 10))
    dY = dY + rng.normal(size=Z.shape)
    assert_close(student.softmax().call("backward", Z, dY), oracle.softmax_grad(Z, dY),
                 "SoftMax.backward (hidden input)", rtol=1e-5, atol=1e-10)


@graded("1.1.46", visible=HIDDEN)
def test_hidden_fc_forward(student, rng):
    """FullyConnectedLayer.forward: hidden layer, non-square W, against the oracle"""
    n_in, n_out = int(rng.integers(3, 9)), int(rng.integers(2, 9))
    X, W, b = rng.normal(size=(batch(rng), n_in)), rng.normal(size=(n_in, n_out)), rng.normal(size=(1, n_out))
    activation = student.layer_activation()
    assert_close(student.layer_with(W, b, activation).call("forward", X), oracle.dense(X, W, b, activation),
                 "FullyConnectedLayer.forward (hidden input)")


@graded("1.1.59", visible=HIDDEN)
def test_hidden_fc_backward(student, rng):
    """FullyConnectedLayer.backward: hidden layer, dW, db and dX against the oracle"""
    n_in, n_out = int(rng.integers(3, 9)), int(rng.integers(2, 9))
    X, W, b = rng.normal(size=(batch(rng), n_in)), rng.normal(size=(n_in, n_out)), rng.normal(size=(1, n_out))
    dY = rng.normal(size=(X.shape[0], n_out))
    activation = student.layer_activation()  # a ReLU bug is charged to ReLU only
    layer = student.layer_with(W, b, activation)
    note = after_forward(layer, X, W, b, oracle.dense(X, W, b, activation))  # the student's own forward first
    expected = oracle.dense_grads(X, W, b, activation, dY)
    m = X.shape[0]
    with noted(note):
        dX = layer.call("backward", dY)
        assert_close(gradient(layer, "W"), expected["W"], "gradients['W'] (hidden input)", rtol=1e-5, atol=1e-10,
                     batch=m)
        assert_close(gradient(layer, "b"), expected["b"], "gradients['b'] (hidden input)", rtol=1e-5, atol=1e-10,
                     batch=m)
        assert_close(dX, expected["X"], "dL/dX (hidden input)", rtol=1e-5, atol=1e-10, batch=m)


@graded("1.1.67", visible=HIDDEN)
def test_hidden_ce_forward(student, rng):
    """CrossEntropyLoss.forward: hidden batch against the oracle"""
    m, k = batch(rng), int(rng.integers(2, 11))
    Y, P = np.eye(k)[rng.integers(0, k, m)], rng.dirichlet(np.ones(k), size=m) * 0.95 + 0.05 / k
    assert_scalar(student.cross_entropy().call("forward", Y, P), oracle.cross_entropy(Y, P),
                  "CrossEntropyLoss.forward (hidden input)", atol=log_slack(Y, P), batch=m)


@graded("1.1.74", visible=HIDDEN)
def test_hidden_ce_backward(student, rng):
    """CrossEntropyLoss.backward: hidden batch against the oracle"""
    m, k = batch(rng), int(rng.integers(2, 11))
    Y, P = np.eye(k)[rng.integers(0, k, m)], rng.dirichlet(np.ones(k), size=m) * 0.95 + 0.05 / k
    assert_close(student.cross_entropy().call("backward", Y, P), oracle.cross_entropy_grad(Y, P),
                 "CrossEntropyLoss.backward (hidden input)", rtol=grad_rtol(P), batch=m)
