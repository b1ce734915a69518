"""Section 1.2: NeuralNetworkModel.forward, .backward and .predict (10 points each, partial credit).

Each member is judged on its own: the model's layers and loss are replaced by test doubles that answer
as the contract says, from data computed here (support/collaborators.py), and record what the model
passed them, so a bug in the student's layer or loss is charged there alone. One check per member runs
end to end on the student's own members (training on the grader's fixed Iris split: the test labels
never enter the sandbox and accuracy is computed here); it weighs 1 of 10 and is charged only when
every member it relies on passes a quick probe (Student.broken_members).
"""

import numpy as np
import pytest

from grader.sandbox.runtime.codec import Earlier
from test_specs.rubric import IRIS_MIN_ACCURACY
from test_specs.support import iris
from test_specs.support.checklist import Checklist
from test_specs.support.collaborators import Collaborators, call
from test_specs.support.compare import as_array, assert_close, assert_scalar, assert_unchanged, describe, fail
from test_specs.support.graded import graded

SIZES, ACTIVATIONS = (5, 3), ("relu", "softmax")
IRIS_EPOCHS, IRIS_BATCH = 60, 16


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


END_TO_END = "this check runs your own layers, activations and loss"


def check_iris_accuracy(run):
    accuracy = require(run)["accuracy"]
    if not np.all(np.isfinite(run["test_output"])):
        fail("Iris end to end", "the trained model's output holds inf or nan: training diverged", END_TO_END)
    if accuracy < IRIS_MIN_ACCURACY:
        fail("Iris end to end", f"test accuracy {accuracy:.3f} is below {IRIS_MIN_ACCURACY}", END_TO_END)


def end_to_end(checks, student, label, fn, *args, others: tuple[str, ...] = ()) -> None:
    """The Iris check, weight 1, charged only when the members it runs pass their probes, the model's
    ``others`` ("forward", "backward") included."""
    broken = student.broken_members() + [f"NeuralNetworkModel.{m}" for m in others if not model_method_works(
        student, m)]
    if broken:
        checks.not_charged(label, f"it runs your own {', '.join(broken)}, which fail their own tests (see there)")
    else:
        checks.check(1, label, fn, *args)


def model_method_works(student, method: str) -> bool:
    """The model's forward or backward, on doubles, passes its main checks (probed once per grading)."""
    key = ("model method works", method)
    if key not in student.memo:
        problem = Problem(np.random.default_rng(0), 4)
        try:
            model = student.model(SIZES, ACTIVATIONS, seed=0)
            collab = doubled(student, model, problem)
            member = f"NeuralNetworkModel.{method}"
            if method == "forward":
                got = collab.run(member, lambda: model.call("forward", problem.X))
                assert_known(collab, got, "layer 2's output (the network's output)", member, "")
                collab.expect_calls(member, [("layer 1", "forward", ["the model's input X"]),
                                             ("layer 2", "forward", ["layer 1's output"])], only=("forward",),
                                    among=("layer 1", "layer 2"))
            else:
                got = collab.run(member, lambda: model.call("backward", problem.Y, problem.P))
                assert_scalar(got, problem.L, member)
                collab.expect_calls(member, [("layer 2", "backward", ["dL/d(out), what loss.backward returns"]),
                                             ("layer 1", "backward", ["what layer 2's backward returned"])],
                                    only=("backward",), among=("layer 1", "layer 2"))
            student.memo[key] = True
        except Exception:  # noqa: BLE001 - any failure: that method is not usable end to end
            student.memo[key] = False
    return student.memo[key]


LOSS_ARGS = ["the target Y", "layer 2's output (the network's output)"]


class Problem:
    """A two-layer network's worth of data: what each layer and the loss answer, as the contract says."""

    def __init__(self, rng, m: int) -> None:
        self.X = rng.normal(size=(m, 4))
        self.Y = np.eye(3)[rng.integers(0, 3, m)]
        self.H = rng.normal(size=(m, SIZES[0]))                                  # layer 1's output
        self.P = rng.dirichlet(np.ones(SIZES[1]), size=m) * 0.9 + 0.1 / SIZES[1]   # layer 2's output
        self.L = float(-np.sum(self.Y * np.log(self.P)) / m)
        self.dP = -self.Y / self.P / m                                            # loss.backward
        self.dH = rng.normal(size=self.H.shape)                                   # layer 2's backward
        self.dX = rng.normal(size=self.X.shape)                                   # layer 1's backward

    def known(self) -> dict[str, np.ndarray]:
        return {"the model's input X": self.X, "the target Y": self.Y, "layer 1's output": self.H,
                "layer 2's output (the network's output)": self.P,
                "dL/d(out), what loss.backward returns": self.dP, "what layer 2's backward returned": self.dH,
                "what layer 1's backward returned": self.dX}

    def scripts(self) -> dict[str, list]:
        grads = {n: {"W": np.ones((i, n)), "b": np.ones((1, n))} for i, n in ((4, SIZES[0]), (SIZES[0], SIZES[1]))}
        return {"layer 1": [call("forward", [self.X], self.H),
                            call("backward", [self.dH], self.dX, {"gradients": grads[SIZES[0]]})],
                "layer 2": [call("forward", [self.H], self.P),
                            call("backward", [self.dP], self.dH, {"gradients": grads[SIZES[1]]})],
                "loss": [call("forward", [self.Y, self.P], self.L), call("backward", [self.Y, self.P], self.dP)],
                "model.forward": [call("forward", [self.X], self.P)],
                "model.backward": [call("backward", [self.Y, self.P], self.L)]}

    def attrs(self) -> dict[str, dict]:
        layer = lambda n_in, n_out: {"n_in": n_in, "n_out": n_out,  # noqa: E731
                                     "parameters": {"W": np.zeros((n_in, n_out)), "b": np.zeros((1, n_out))},
                                     "gradients": {"W": np.zeros((n_in, n_out)), "b": np.zeros((1, n_out))},
                                     "cache": {}}
        return {"layer 1": layer(4, SIZES[0]), "layer 2": layer(SIZES[0], SIZES[1])}


def doubled(student, model, problem: Problem, own_methods: bool = False) -> Collaborators:
    """Fresh doubles in place of the model's layers and loss (and, with ``own_methods``, of its own forward and
    backward, so that predict is judged apart from them)."""
    collab = Collaborators(student, problem.scripts(), problem.attrs(), problem.known())
    model.set("layers", value=[collab.handle("layer 1"), collab.handle("layer 2")])
    model.set("loss", value=collab.handle("loss"))
    if own_methods:
        model.set("forward", value=collab.handle("model.forward"))
        model.set("backward", value=collab.handle("model.backward"))
    return collab


def assert_known(collab: Collaborators, got: object, name: str, what: str, hint: str) -> None:
    """``got`` is the known array ``name``; if it is another known array, say which."""
    expected = collab.known[name]
    if isinstance(got, np.ndarray) and got.shape == expected.shape and np.allclose(got, expected):
        return
    other = collab.name_of(got) if isinstance(got, np.ndarray) else ""
    if other in collab.known:
        fail(what, f"returned {other}", hint, expected=name)
    assert_close(got, expected, what, hint)


# ---- forward ------------------------------------------------------------------------------

FORWARD_ORDER = "feed X to the first layer and each layer's output to the next, in order, once each"


@graded("1.2.1", 10, "visible", True)
def test_model_forward(student, rng, iris_run, set_score=None):
    """NeuralNetworkModel.forward: returns the last layer's output, calling the layers in order, on any batch"""
    member = "NeuralNetworkModel.forward"
    checks = Checklist(member, 10, set_score)
    model = student.model(SIZES, ACTIVATIONS, seed=1)
    problem = Problem(rng, 6)

    def output():
        collab = doubled(student, model, problem)
        got = collab.run(member, lambda: model.call("forward", problem.X))
        collab.expect_args(member, "layer 2", "forward", ["layer 1's output"], FORWARD_ORDER)
        assert_known(collab, got, "layer 2's output (the network's output)", "forward's return value",
                     "return the output of the last layer")

    def order():
        collab = doubled(student, model, problem)
        collab.run(member, lambda: model.call("forward", problem.X))
        collab.expect_calls(member, [("layer 1", "forward", ["the model's input X"]),
                                     ("layer 2", "forward", ["layer 1's output"])], FORWARD_ORDER, only=("forward",),
                            among=("layer 1", "layer 2"))

    def batch_one():
        one = Problem(rng, 1)
        collab = doubled(student, model, one)
        got = collab.run(member, lambda: model.call("forward", one.X))
        assert_known(collab, got, "layer 2's output (the network's output)", "forward of a batch of 1",
                     "nothing may depend on the batch size")

    def leaves_input():
        collab = doubled(student, model, problem)
        _, (X_after,) = collab.run(member, lambda: model.call_echo("forward", problem.X.copy()))
        assert_unchanged(problem.X, X_after, "NeuralNetworkModel.forward (X)")

    checks.check(3, "returns the last layer's output", output)
    checks.check(4, "calls each layer's forward once, in order, passing each output to the next", order)
    checks.check(1, "works for a batch of 1", batch_one)
    checks.check(1, "leaves X unmodified", leaves_input)
    end_to_end(checks, student, f"Iris: trained model reaches >= {IRIS_MIN_ACCURACY:.0%} test accuracy (measured by "
               "the grader)", check_iris_accuracy, iris_run, others=("backward",))
    checks.finish()


# ---- backward -----------------------------------------------------------------------------

BACKWARD_ORDER = ("start from dL/d(out) = loss.backward(target, out) and pass it through the layers' backward "
                  "in reverse order, each layer's result to the layer before it")


@graded("1.2.2", 10, "visible", True)
def test_model_backward(student, rng, iris_run, set_score=None):
    """NeuralNetworkModel.backward: returns the loss and back-propagates through the layers in reverse order"""
    member = "NeuralNetworkModel.backward"
    checks = Checklist(member, 10, set_score)
    model = student.model(SIZES, ACTIVATIONS, seed=2)
    problem = Problem(rng, 5)
    layers = ("layer 1", "layer 2")

    def returns_loss():
        collab = doubled(student, model, problem)
        got = collab.run(member, lambda: model.call("backward", problem.Y, problem.P))
        for method in ("forward", "backward"):
            collab.expect_args(member, "loss", method, LOSS_ARGS, "the loss takes (target, out), in that order")
        assert_scalar(got, problem.L, "backward's return value", "return the loss of (target, out), from self.loss")

    def last_layer_first():
        collab = doubled(student, model, problem)
        collab.run(member, lambda: model.call("backward", problem.Y, problem.P))
        collab.expect_calls(member, [("layer 2", "backward", ["dL/d(out), what loss.backward returns"])],
                            BACKWARD_ORDER, only=("backward",), among=layers, prefix=True)

    def chain():
        collab = doubled(student, model, problem)
        collab.run(member, lambda: model.call("backward", problem.Y, problem.P))
        collab.expect_calls(member, [("layer 2", "backward", ["dL/d(out), what loss.backward returns"]),
                                     ("layer 1", "backward", ["what layer 2's backward returned"])],
                            BACKWARD_ORDER, only=("backward",), among=layers)

    def leaves_inputs():
        collab = doubled(student, model, problem)
        _, (Y_after, P_after) = collab.run(member, lambda: model.call_echo("backward", problem.Y.copy(),
                                                                           problem.P.copy()))
        assert_unchanged(problem.Y, Y_after, "NeuralNetworkModel.backward (target)")
        assert_unchanged(problem.P, P_after, "NeuralNetworkModel.backward (out)")

    def training_lowers_loss():
        losses = require(iris_run)["epoch_losses"]
        if not losses[-1] < losses[0] * 0.5:
            fail("Iris training", "the training loss did not fall", END_TO_END,
                 first_epoch=f"{losses[0]:.4f}", last_epoch=f"{losses[-1]:.4f}")

    checks.check(3, "returns the loss of (target, out)", returns_loss)
    checks.check(2, "starts at the last layer with dL/d(out) from the loss", last_layer_first)
    checks.check(3, "calls each layer's backward once, in reverse order, passing each result on", chain)
    checks.check(1, "leaves target and out unmodified", leaves_inputs)
    end_to_end(checks, student, "Iris: training with these gradients halves the training loss", training_lowers_loss,
               others=("forward",))
    checks.finish()


# ---- predict ------------------------------------------------------------------------------

@graded("1.2.3", 10, "visible", True)
def test_model_predict(student, rng, iris_run, set_score=None):
    """NeuralNetworkModel.predict: returns (Y_hat, loss), the network's output and its loss"""
    member = "NeuralNetworkModel.predict"
    checks = Checklist(member, 10, set_score)
    model = student.model(SIZES, ACTIVATIONS, seed=3)
    problem = Problem(rng, 7)
    result = {}

    def pair():
        collab = doubled(student, model, problem, own_methods=True)
        got = collab.run(member, lambda: model.call("predict", problem.X, problem.Y))
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            fail("predict", "expected a pair (Y_hat, loss)", "return Y_hat, loss", got=describe(got))
        result["collab"], (result["Y_hat"], result["loss"]) = collab, got

    def output():
        if not result:
            pair()
        for who in ("model.forward", "layer 1"):
            result["collab"].expect_args(member, who, "forward", ["the model's input X"], "Y_hat is forward(X)")
        assert_known(result["collab"], result["Y_hat"], "layer 2's output (the network's output)", "predict's Y_hat",
                     "Y_hat is the network's output, forward(X)")

    def loss():
        if not result:
            pair()
        result["collab"].expect_args(member, "loss", "forward", LOSS_ARGS, "the loss takes (Y, Y_hat), in that order")
        assert_scalar(result["loss"], problem.L, "predict's loss", "the loss of (Y, Y_hat), from self.loss")

    def iris_loss():
        run = require(iris_run)
        data = run["data"]
        Y_test = np.eye(3)[data["y_test"]]
        if not np.all(np.isfinite(run["test_output"])):
            fail("Iris test split", "the trained model's output holds inf or nan: training diverged", END_TO_END)
        Y_hat, value = run["model"].call("predict", data["X_test"], Y_test)
        assert_close(Y_hat, run["test_output"], "predict on the Iris test split",
                     "predict returns forward(X) and must not change the model",
                     nan_hint="predict's output holds inf or nan where forward(X)'s does not")
        expected = float(run["model"].get("loss").call("forward", Y_test, run["test_output"]))
        value = assert_scalar(value, expected, "Iris test loss from predict")
        if not value < np.log(3):
            fail("Iris test loss", f"{value:.3f} is no better than guessing (ln 3 = {np.log(3):.3f})", END_TO_END)

    def leaves_inputs():
        collab = doubled(student, model, problem, own_methods=True)
        _, (X_after, Y_after) = collab.run(member, lambda: model.call_echo("predict", problem.X.copy(),
                                                                           problem.Y.copy()))
        assert_unchanged(problem.X, X_after, "NeuralNetworkModel.predict (X)")
        assert_unchanged(problem.Y, Y_after, "NeuralNetworkModel.predict (Y)")

    checks.check(2, "returns a pair (Y_hat, loss)", pair)
    checks.check(3, "Y_hat is the network's output", output)
    checks.check(3, "loss is the loss of (Y, Y_hat)", loss)
    checks.check(1, "leaves X and Y unmodified", leaves_inputs)
    end_to_end(checks, student, "Iris: after training, the test loss beats guessing", iris_loss,
               others=("forward", "backward"))
    checks.finish()
