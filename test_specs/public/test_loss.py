"""Section 1.1: CrossEntropyLoss (visible tests)."""

import numpy as np

from test_specs.support import targets
from test_specs.support.compare import as_array, assert_close, assert_gradient, assert_scalar, assert_unchanged
from test_specs.support.gradcheck import numerical_gradient
from test_specs.support.graded import graded
from test_specs.support.tolerances import grad_rtol, log_slack

Y = np.array([[1.0, 0.0], [0.0, 1.0]])
Y_HAT = np.array([[0.5, 0.5], [0.25, 0.75]])
LOSS = -(np.log(0.5) + np.log(0.75)) / 2
GRAD = np.array([[-1.0, 0.0], [0.0, -2 / 3]])   # -(1/m) Y / Y_hat
MEAN_HINT = "L = -(1/m) * sum(Y * log(Y_hat)): sum over classes and the batch, divide by the batch size m"


def loss_mistakes(Y_, P) -> dict[str, float]:
    """Losses that common mistakes give, with the hint each deserves."""
    m = Y_.shape[0]
    return {"only the true class's probability counts: use Y * log(Y_hat), not log(Y_hat) alone":
            float(-np.sum(np.log(P)) / m),
            "the loss is minus the mean of Y * log(Y_hat): check the sign": float(np.sum(Y_ * np.log(P)) / m),
            "np.mean over every entry divides by m * k: sum over the classes, then divide by the batch size m only":
            float(-np.mean(Y_ * np.log(P)))}


def one_hot_batch(rng, m, k):
    return np.eye(k)[rng.integers(0, k, m)], rng.dirichlet(np.ones(k), size=m) * 0.9 + 0.1 / k


def check_loss_gradient(student, rng, m: int, k: int) -> None:
    """The student's backward against central differences of the loss, batch m, k classes."""
    Y_, P = one_hot_batch(rng, m, k)
    numeric = numerical_gradient(lambda p: targets.forward(student, "cross_entropy")(Y_, p), P)
    assert_gradient(student.cross_entropy().call("backward", Y_, P), numeric, f"CrossEntropyLoss.backward (batch {m})",
                    batch=m)


# ---- CrossEntropyLoss.forward -------------------------------------------------------------

@graded("1.1.60")
def test_ce_forward_prototype(student):
    """CrossEntropyLoss.forward: prototype forward(self, Y, Y_hat) returns a single number"""
    student.check_prototype("CrossEntropyLoss.forward")
    assert_scalar(student.cross_entropy().call("forward", Y, Y_HAT), LOSS, "CrossEntropyLoss.forward", MEAN_HINT,
                  atol=log_slack(Y, Y_HAT), batch=2, mistakes=loss_mistakes(Y, Y_HAT))


@graded("1.1.61")
def test_ce_forward_values(student, rng):
    """CrossEntropyLoss.forward: batch 6, 4 classes"""
    Y_, P = one_hot_batch(rng, 6, 4)
    assert_scalar(student.cross_entropy().call("forward", Y_, P), -np.sum(Y_ * np.log(P)) / 6,
                  "CrossEntropyLoss.forward (batch 6)", MEAN_HINT, atol=log_slack(Y_, P), batch=6,
                  mistakes=loss_mistakes(Y_, P))


@graded("1.1.62")
def test_ce_forward_batch_1(student):
    """CrossEntropyLoss.forward: batch 1 gives -ln of the true class's probability"""
    assert_scalar(student.cross_entropy().call("forward", Y[1:], Y_HAT[1:]), -np.log(0.75),
                  "CrossEntropyLoss.forward (batch 1)", MEAN_HINT, atol=log_slack(Y[1:], Y_HAT[1:]),
                  mistakes=loss_mistakes(Y[1:], Y_HAT[1:]))


@graded("1.1.63")
def test_ce_forward_is_a_mean(student, rng):
    """CrossEntropyLoss.forward: the loss of a batch repeated 3 times is unchanged (mean, not sum)"""
    Y_, P = one_hot_batch(rng, 4, 3)
    assert_scalar(student.cross_entropy().call("forward", np.tile(Y_, (3, 1)), np.tile(P, (3, 1))),
                  -np.sum(Y_ * np.log(P)) / 4, "CrossEntropyLoss.forward of a repeated batch", MEAN_HINT,
                  atol=log_slack(Y_, P), batch=12, mistakes=loss_mistakes(np.tile(Y_, (3, 1)), np.tile(P, (3, 1))))


@graded("1.1.64")
def test_ce_forward_confident(student):
    """CrossEntropyLoss.forward: a confident correct prediction has a loss near 0"""
    P = Y * (1 - 1e-6) + (1 - Y) * 1e-6
    assert_scalar(student.cross_entropy().call("forward", Y, P), -np.log(1 - 1e-6), "CrossEntropyLoss.forward",
                  rtol=1e-4, atol=log_slack(Y, P), batch=2, mistakes=loss_mistakes(Y, P))


@graded("1.1.65")
def test_ce_forward_leaves_inputs(student):
    """CrossEntropyLoss.forward: correct and leaves Y and Y_hat unmodified"""
    loss, (Y_after, P_after) = student.cross_entropy().call_echo("forward", Y.copy(), Y_HAT.copy())
    assert_scalar(loss, LOSS, "CrossEntropyLoss.forward", MEAN_HINT, atol=log_slack(Y, Y_HAT), batch=2,
                  mistakes=loss_mistakes(Y, Y_HAT))
    assert_unchanged(Y, Y_after, "CrossEntropyLoss.forward (Y)")
    assert_unchanged(Y_HAT, P_after, "CrossEntropyLoss.forward (Y_hat)")


@graded("1.1.66")
def test_ce_forward_vectorised(student):
    """CrossEntropyLoss.forward: correct and vectorised, no loop over the batch"""
    assert_scalar(student.cross_entropy().call("forward", Y, Y_HAT), LOSS, "CrossEntropyLoss.forward", MEAN_HINT,
                  atol=log_slack(Y, Y_HAT), batch=2, mistakes=loss_mistakes(Y, Y_HAT))
    student.check_no_batch_loop("CrossEntropyLoss.forward")


# ---- CrossEntropyLoss.backward ------------------------------------------------------------

@graded("1.1.68")
def test_ce_backward_prototype(student):
    """CrossEntropyLoss.backward: prototype backward(self, Y, Y_hat) returns an ndarray of shape (m, k)"""
    student.check_prototype("CrossEntropyLoss.backward")
    as_array(student.cross_entropy().call("backward", Y, Y_HAT), Y.shape, "CrossEntropyLoss.backward")


@graded("1.1.69")
def test_ce_backward_values(student):
    """CrossEntropyLoss.backward: hand-checked values -(1/m) Y / Y_hat"""
    assert_close(student.cross_entropy().call("backward", Y, Y_HAT), GRAD, "CrossEntropyLoss.backward",
                 "dL/dY_hat = -(1/m) * Y / Y_hat, with m the batch size", rtol=grad_rtol(Y_HAT), batch=2)


@graded("1.1.70")
def test_ce_backward_gradcheck_batch_8(student, rng):
    """CrossEntropyLoss.backward: gradient check, batch 8, 5 classes"""
    check_loss_gradient(student, rng, 8, 5)


@graded("1.1.71")
def test_ce_backward_gradcheck_batch_1(student, rng):
    """CrossEntropyLoss.backward: gradient check, batch 1, 3 classes"""
    check_loss_gradient(student, rng, 1, 3)


@graded("1.1.72")
def test_ce_backward_leaves_inputs(student):
    """CrossEntropyLoss.backward: correct and leaves Y and Y_hat unmodified"""
    grad, (Y_after, P_after) = student.cross_entropy().call_echo("backward", Y.copy(), Y_HAT.copy())
    assert_close(grad, GRAD, "CrossEntropyLoss.backward", rtol=grad_rtol(Y_HAT), batch=2)
    assert_unchanged(Y, Y_after, "CrossEntropyLoss.backward (Y)")
    assert_unchanged(Y_HAT, P_after, "CrossEntropyLoss.backward (Y_hat)")


@graded("1.1.73")
def test_ce_backward_vectorised(student):
    """CrossEntropyLoss.backward: correct and vectorised, no loop over the batch"""
    assert_close(student.cross_entropy().call("backward", Y, Y_HAT), GRAD, "CrossEntropyLoss.backward",
                 rtol=grad_rtol(Y_HAT), batch=2)
    student.check_no_batch_loop("CrossEntropyLoss.backward")
