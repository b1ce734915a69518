"""Stochastic gradient descent with momentum (provided; the grader uses its own copy)."""

import numpy as np


class SGD:
    """SGD with classical momentum: ``v <- momentum * v - lr * grad``, ``param <- param + v``."""

    def __init__(self, lr: float, momentum: float = 0.0) -> None:
        self.lr = lr
        self.momentum = momentum
        self.velocity: dict[str, np.ndarray] = {}

    def update(self, param_name: str, param: np.ndarray, param_grad: np.ndarray, epoch: int) -> np.ndarray:
        """Return the new value of ``param`` after one step.

        ``param_name`` keys the velocity of each parameter; ``epoch`` is kept
        for learning-rate schedules and unused by plain SGD.
        """
        velocity = self.momentum * self.velocity.get(param_name, 0.0) - self.lr * param_grad
        self.velocity[param_name] = velocity
        return param + velocity


def initialize_optimizer(name: str, lr: float, momentum: float = 0.0) -> SGD:
    """Return the optimizer called ``name``: "SGD"."""
    if name == "SGD":
        return SGD(lr=lr, momentum=momentum)
    raise NotImplementedError(f"{name} optimizer is not implemented")
