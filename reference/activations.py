"""Activation functions and their derivatives.

Every activation maps a pre-activation array ``Z`` to ``Y = f(Z)`` of the same
shape, and back-propagates an upstream gradient ``dY = dL/dY`` to
``dL/dZ``. Arrays are float64; ``m`` is the mini-batch size.
"""

from abc import ABC, abstractmethod

import numpy as np


class Activation(ABC):
    """Abstract activation: ``Y = f(Z)`` applied by ``__call__``."""

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        return self.forward(Z)

    @abstractmethod
    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Apply the activation to ``Z``."""

    @abstractmethod
    def backward(self, Z: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """Return ``dL/dZ`` given ``Z`` and ``dY = dL/dY``."""


def initialize_activation(name: str) -> Activation:
    """Return the activation called ``name``: "linear", "relu" or "softmax"."""
    if name == "linear":
        return Linear()
    if name == "relu":
        return ReLU()
    if name == "softmax":
        return SoftMax()
    raise NotImplementedError(f"{name} activation is not implemented")


class Linear(Activation):
    """The identity: ``Y = Z``."""

    def forward(self, Z: np.ndarray) -> np.ndarray:
        return Z

    def backward(self, Z: np.ndarray, dY: np.ndarray) -> np.ndarray:
        return dY


class ReLU(Activation):
    """Rectified linear unit, ``Y = max(Z, 0)`` elementwise."""

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Elementwise ``max(Z, 0)``.

        Parameters
        ----------
        Z  pre-activations, any shape, e.g. (m, n)

        Returns
        -------
        ``max(Z, 0)``, same shape as ``Z``; ``Z`` itself is left unchanged
        """
        # BEGIN SOLUTION
        return np.maximum(Z, 0.0)
        # END SOLUTION

    def backward(self, Z: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """Back-propagate through ReLU: ``dL/dZ = dY * 1[Z > 0]``.

        Parameters
        ----------
        Z   pre-activations of the forward pass, shape (m, n)
        dY  gradient of the loss with respect to the output, shape (m, n)

        Returns
        -------
        ``dL/dZ``, shape (m, n)
        """
        # BEGIN SOLUTION
        return dY * (Z > 0)
        # END SOLUTION


class SoftMax(Activation):
    """Row-wise softmax: ``Y[i, j] = exp(Z[i, j]) / sum_k exp(Z[i, k])``."""

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Row-wise softmax, numerically stable.

        Parameters
        ----------
        Z  logits, shape (m, k)

        Returns
        -------
        probabilities, shape (m, k); every row is positive and sums to 1.
        The row maximum is subtracted first so that ``exp`` never overflows.
        """
        # BEGIN SOLUTION
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        return exps / exps.sum(axis=1, keepdims=True)
        # END SOLUTION

    def backward(self, Z: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """Back-propagate through softmax: apply each row's softmax Jacobian to ``dY``.

        Parameters
        ----------
        Z   logits of the forward pass, shape (m, k)
        dY  gradient of the loss with respect to the probabilities, shape (m, k)

        Returns
        -------
        ``dL/dZ``, shape (m, k)
        """
        # BEGIN SOLUTION
        # Row i's Jacobian is diag(y_i) - y_i y_i^T (symmetric), so J_i dy_i = y_i * (dy_i - y_i . dy_i).
        Y = self.forward(Z)
        return Y * (dY - np.sum(Y * dY, axis=1, keepdims=True))
        # END SOLUTION
