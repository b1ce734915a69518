"""Hints are chosen by what the student's values show, and there is none where nothing fits."""

from __future__ import annotations

import numpy as np
import pytest

from test_specs.support.compare import SpecFailure, assert_close, assert_scalar

EXPECTED = np.array([[1.0, 2.0, -1.0], [0.5, 3.0, 2.0]])


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(SpecFailure) as failure:
        fn(*args, **kwargs)
    return str(failure.value)


@pytest.mark.parametrize("got,shows", [
    (-EXPECTED, "opposite sign"),
    (EXPECTED / 2, "1/2 of the expected ones, 2 being the batch size: sum over the batch"),
    (EXPECTED * 2, "2 times the expected ones, 2 being the batch size: divide by the batch size m"),
    (EXPECTED[0], "keepdims=True"),
    (EXPECTED.T, "transpose"),
    (EXPECTED[:, :1], "reducing the other axis"),
])
def test_the_hint_names_what_the_values_show(got, shows):
    expected = EXPECTED if got.shape != (2, 1) else EXPECTED.sum(axis=0, keepdims=True)
    if got.shape == (3,):
        expected = EXPECTED[:1]
    text = message(assert_close, got, expected, "gradients['b']", "the contract's formula", batch=2)
    assert shows in text, text


def test_a_known_mistake_gets_its_own_hint_and_other_values_none_but_the_formula():
    text = message(assert_close, EXPECTED + 1, EXPECTED, "x", mistakes={"you added one": EXPECTED + 1})
    assert "hint: you added one" in text
    rng = np.random.default_rng(0)
    assert "hint:" not in message(assert_close, rng.normal(size=(2, 3)), EXPECTED, "x")


def test_a_loss_with_the_allowed_epsilon_passes_and_a_wrong_one_names_its_mistake():
    from test_specs.support.tolerances import log_slack

    Y, P = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1 - 1e-6, 1e-6], [1e-6, 1 - 1e-6]])
    exact = float(-np.sum(Y * np.log(P)) / 2)
    assert_scalar(float(-np.sum(Y * np.log(P + 1e-8)) / 2), exact, "loss", rtol=1e-4, atol=log_slack(Y, P))
    wrong = float(-np.sum(np.log(P)) / 2)
    text = message(assert_scalar, wrong, exact, "loss", atol=log_slack(Y, P),
                   mistakes={"use Y * log(Y_hat), not log(Y_hat) alone": wrong})
    assert "use Y * log(Y_hat)" in text
    assert "hint:" not in message(assert_scalar, exact * 1.5, exact, "loss", atol=log_slack(Y, P), batch=2)
