"""Section 1.2: NeuralNetworkModel.forward, .backward and .predict (10 points each, partial credit).

Everything is checked against the student's own layers and loss (graded in 1.1) or
against central differences, and end to end on the grader's fixed Iris split: the
test labels never enter the sandbox and accuracy is computed here.
"""

import numpy as np
import pytest

from grader.sandbox.runtime.codec import Earlier
from test_specs.rubric import IRIS_MIN_ACCURACY
from test_specs.support import iris
from test_specs.support.checklist import Checklist
from test_specs.support.compare import as_array, assert_close, assert_gradient, assert_scalar, describe, fail
from test_specs.support.gradcheck import numerical_gradient_many
from test_specs.support.graded import graded

SIZES, ACTIVATIONS = (5, 3), ("relu", "softmax")
IRIS_EPOCHS, IRIS_BATCH = 60, 16


def small_problem(rng, m=6):
    X = rng.normal(size=(m, 4))
    Y = np.eye(3)[rng.integers(0, 3, m)]
    return X, Y


@pytest.fixture(scope="module")
def iris_run(student, ctx):
    """Train the student's model on the grader's split with the grader's optimizer; measure here."""
    data = iris.load(ctx.iris_csv)
    rng = np.random.default_rng(0)
    run = {"accuracy": None, "error": None, "epoch_losses": [], "test_output": None}
    try:
        model = student.model((16, 3), ACTIVATIONS, lr=0.05, momentum=0.9, seed=0)
        n = len(data["X_train"])
        steps, loss_steps = [], []  # the whole training in one round trip to the worker
        for epoch in range(IRIS_EPOCHS):
            order = rng.permutation(n)
            loss_steps.append([])
            for start in range(0, n, IRIS_BATCH):
                idx = order[start:start + IRIS_BATCH]
                steps.append(model.step("forward", data["X_train"][idx], keep=False))
                loss_steps[-1].append(len(steps))
                steps.append(model.step("backward", data["Y_train"][idx], Earlier(len(steps) - 1)))
                steps.append(model.step("update", epoch, keep=False))
        results = student.sb.sequence(steps, timeout=60, key="NeuralNetworkModel (Iris training)")
        for epoch_steps in loss_steps:
            losses = [results[i] for i in epoch_steps]
            if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in losses):
                fail("NeuralNetworkModel.backward during Iris training", "did not return the loss as a number",
                     got=describe(next(v for v in losses if not isinstance(v, (int, float, np.number)))))
            run["epoch_losses"].append(float(np.mean(losses)))
        out = as_array(model.call("forward", data["X_test"]), (len(data["y_test"]), 3),
                       "forward on the Iris test split")
        run["accuracy"] = float(np.mean(out.argmax(axis=1) == data["y_test"]))
        run["test_output"] = out
        run["model"], run["data"] = model, data
    except Exception as exc:  # noqa: BLE001 - reported by each test that relies on the run
        run["error"] = exc
    return run


def require(run):
    if run["error"] is not None:
        raise run["error"]
    return run


def check_iris_accuracy(run):
    accuracy = require(run)["accuracy"]
    if accuracy < IRIS_MIN_ACCURACY:
        fail("Iris end to end", f"test accuracy {accuracy:.3f} is below {IRIS_MIN_ACCURACY}",
             "check that forward chains every layer and backward fills every layer's gradients")


# ---- forward ------------------------------------------------------------------------------

@graded("1.2.1", 10, "visible", True)
def test_model_forward(student, rng, iris_run, set_score=None):
    """NeuralNetworkModel.forward: two-layer model output, layer chaining, Iris accuracy"""
    checks = Checklist("NeuralNetworkModel.forward", 10, set_score)
    X, _ = small_problem(rng)
    model = student.model(SIZES, ACTIVATIONS, seed=1)

    def shape():
        as_array(model.call("forward", X), (6, 3), "forward of a (6, 4) batch", "return the last layer's output")

    def chains_layers():
        out = model.call("forward", X)
        expected = X
        for layer in model.get("layers"):
            expected = layer.call("forward", expected)
        assert_close(out, expected, "forward", "feed each layer's output into the next, in order")

    def batch_one():
        as_array(model.call("forward", X[:1]), (1, 3), "forward of a (1, 4) batch")

    def probabilities():
        out = as_array(model.call("forward", X), (6, 3), "forward")
        if not np.allclose(out.sum(axis=1), 1):
            fail("forward", "rows of the softmax output do not sum to 1", "return the output of the last layer")

    checks.check(2, "returns the last layer's output, shape (m, n_classes)", shape)
    checks.check(3, "equals the layers' forward passes applied in order", chains_layers)
    checks.check(1, "works for a batch of 1", batch_one)
    checks.check(1, "softmax output rows sum to 1", probabilities)
    checks.check(3, f"Iris: trained model reaches >= {IRIS_MIN_ACCURACY:.0%} test accuracy (measured by the grader)",
                 check_iris_accuracy, iris_run)
    checks.finish()


# ---- backward -----------------------------------------------------------------------------

@graded("1.2.2", 10, "visible", True)
def test_model_backward(student, rng, iris_run, set_score=None):
    """NeuralNetworkModel.backward: loss value and every layer's gradients against finite differences"""
    checks = Checklist("NeuralNetworkModel.backward", 10, set_score)
    X, Y = small_problem(rng, 5)
    model = student.model(SIZES, ACTIVATIONS, seed=2)
    layers = model.get("layers")
    loss = model.get("loss")

    def returns_loss():
        out = model.call("forward", X)
        assert_scalar(model.call("backward", Y, out), float(loss.call("forward", Y, out)), "backward's return value",
                      "return the loss of (target, out) computed with self.loss")

    def gradient(layer_index, name):
        if not isinstance(layers, (list, tuple)) or len(layers) != len(SIZES):
            fail("model.layers", "is not the list of the model's layers", "keep the provided __init__",
                 got=f"{type(layers).__name__}")
        layer = layers[layer_index]
        original = layer.get("parameters", name)
        model.call("backward", Y, model.call("forward", X))
        analytic = layer.get("gradients", name)

        def losses_at(points):  # every perturbation in one round trip
            steps, picks = [], []
            for point in points:
                steps += [layer.step_set("parameters", name, value=point), model.step("forward", X, keep=False)]
                picks.append(len(steps))
                steps.append(loss.step("forward", Y, Earlier(len(steps) - 1)))
            steps.append(layer.step_set("parameters", name, value=original))
            results = student.sb.sequence(steps, timeout=30, key="NeuralNetworkModel (gradient check)")
            return [float(results[i]) for i in picks]

        numeric = numerical_gradient_many(losses_at, original)
        assert_gradient(analytic, numeric, f"layer {layer_index + 1} gradients['{name}']",
                        "back-propagate loss.backward through the layers in reverse order")

    def shapes():
        model.call("backward", Y, model.call("forward", X))
        for i, layer in enumerate(layers if isinstance(layers, (list, tuple)) else []):
            for name, param in layer.get("parameters").items():
                as_array(layer.get("gradients", name), param.shape, f"layer {i + 1} gradients['{name}']")

    def training_lowers_loss():
        losses = require(iris_run)["epoch_losses"]
        if not losses[-1] < losses[0] * 0.5:
            fail("Iris training", "the training loss did not fall",
                 "backward must fill the gradients the optimizer uses",
                 first_epoch=f"{losses[0]:.4f}", last_epoch=f"{losses[-1]:.4f}")

    checks.check(2, "returns the loss of (target, out)", returns_loss)
    for index in range(len(SIZES)):
        for name in ("W", "b"):
            checks.check(1.5, f"layer {index + 1} gradients['{name}'] match central differences", gradient, index, name)
    checks.check(1, "every gradient has its parameter's shape", shapes)
    checks.check(1, "Iris: training with these gradients halves the training loss", training_lowers_loss)
    checks.finish()


# ---- predict ------------------------------------------------------------------------------

@graded("1.2.3", 10, "visible", True)
def test_model_predict(student, rng, iris_run, set_score=None):
    """NeuralNetworkModel.predict: returns (Y_hat, loss) consistent with forward and the loss"""
    checks = Checklist("NeuralNetworkModel.predict", 10, set_score)
    X, Y = small_problem(rng, 7)
    model = student.model(SIZES, ACTIVATIONS, seed=3)
    result = {}

    def pair():
        got = model.call("predict", X, Y)
        if not (isinstance(got, tuple) and len(got) == 2) and not (isinstance(got, list) and len(got) == 2):
            fail("predict", "expected a pair (Y_hat, loss)", "return Y_hat, loss", got=str(type(got).__name__))
        result["Y_hat"], result["loss"] = got

    def output_matches_forward():
        if not result:
            pair()
        assert_close(result["Y_hat"], model.call("forward", X), "predict's Y_hat", "Y_hat is forward(X)")

    def loss_matches():
        if not result:
            pair()
        expected = float(model.get("loss").call("forward", Y, model.call("forward", X)))
        assert_scalar(result["loss"], expected, "predict's loss", "the loss of (Y, Y_hat) with self.loss")

    def iris_loss():
        run = require(iris_run)
        data = run["data"]
        Y_test = np.eye(3)[data["y_test"]]
        Y_hat, loss = run["model"].call("predict", data["X_test"], Y_test)
        assert_close(Y_hat, run["test_output"], "predict on the Iris test split", "predict must not change the model")
        value = assert_scalar(loss, float(run["model"].get("loss").call("forward", Y_test, run["test_output"])),
                              "Iris test loss from predict")
        if not value < np.log(3):
            fail("Iris test loss", f"{value:.3f} is no better than guessing (ln 3 = {np.log(3):.3f})")

    checks.check(2, "returns a pair (Y_hat, loss)", pair)
    checks.check(3, "Y_hat equals forward(X)", output_matches_forward)
    checks.check(3, "loss equals the loss of (Y, forward(X))", loss_matches)
    checks.check(2, "Iris: after training, the test loss beats guessing", iris_loss)
    checks.finish()
