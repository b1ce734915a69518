"""Test doubles in the sandbox: they answer from the grader's data, record every call, and never run grader code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.client import Sandbox
from grader.sandbox.errors import StudentRaised

MODEL = '''
class Model:
    def __init__(self, layers, loss):
        self.layers, self.loss = layers, loss

    def forward(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward_wrong_order(self, target, out):
        dL = self.loss.backward(target, out)
        for layer in self.layers:
            dL = layer.backward(dL)
        return self.loss(target, out)
'''


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    (tmp_path / "model.py").write_text(MODEL)
    with Sandbox(Path(tmp_path), "process") as sb:
        yield sb


def script(*calls):
    out: dict[str, list] = {}
    for method, args, result in calls:
        out.setdefault(method, []).append([list(args), result, {}])
    return out


def test_stand_ins_answer_from_the_script_and_record_what_they_were_given(sandbox):
    X, H, P = np.ones((2, 3)), np.full((2, 4), 2.0), np.full((2, 2), 0.5)
    journal, (one, two) = sandbox.doubles([
        {"label": "layer 1", "script": script(("forward", [X], H)), "attrs": {"n_out": 4}},
        {"label": "layer 2", "script": script(("forward", [H], P))}])
    model = sandbox.new("model", "Model", [one.handle, two.handle], None)
    np.testing.assert_array_equal(model.call("forward", X), P)
    calls = journal.get("calls")
    assert [(c["who"], c["method"]) for c in calls] == [("layer 1", "forward"), ("layer 2", "forward")]
    np.testing.assert_array_equal(calls[1]["args"][0], H)
    assert one.get("n_out") == 4


def test_an_unexpected_argument_still_gets_an_answer_of_the_scripted_shape_and_is_recorded(sandbox):
    Y, P, dP = np.eye(2), np.full((2, 2), 0.5), np.full((2, 2), -1.0)
    dH, dX = np.full((2, 4), 3.0), np.full((2, 3), 4.0)
    journal, (loss, one, two) = sandbox.doubles([
        {"label": "loss", "script": script(("forward", [Y, P], 0.7), ("backward", [Y, P], dP)), "call_as": "forward"},
        {"label": "layer 1", "script": script(("backward", [dH], dX))},
        {"label": "layer 2", "script": script(("backward", [dP], dH))}])
    model = sandbox.new("model", "Model", [one.handle, two.handle], loss.handle)
    assert model.call("backward_wrong_order", Y, P) == 0.7  # the loss's __call__ answers as its forward
    calls = journal.get("calls")
    assert [(c["who"], c["method"]) for c in calls] == [("loss", "backward"), ("layer 1", "backward"),
                                                         ("layer 2", "backward"), ("loss", "forward")]
    np.testing.assert_array_equal(calls[1]["args"][0], dP)  # what the wrong order passed, for the message


def test_a_method_without_a_script_raises_in_the_sandbox(sandbox):
    _, (layer,) = sandbox.doubles([{"label": "layer 1", "script": script(("forward", [np.ones(2)], np.ones(2)))}])
    with pytest.raises(StudentRaised) as raised:
        layer.call("backward", np.ones(2))
    assert raised.value.type_name == "UnexpectedCall"


def test_other_public_methods_are_recorded_and_do_nothing(sandbox):
    journal, (layer,) = sandbox.doubles([{"label": "layer 1", "script": {}}])
    assert layer.call("clear_gradients") is None
    assert [(c["who"], c["method"]) for c in journal.get("calls")] == [("layer 1", "clear_gradients")]
