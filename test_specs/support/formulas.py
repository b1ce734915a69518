"""The functions pa3-api.md states, as the targets whose central differences a backward pass must match.

Differencing these (not the student's own forward) charges a forward bug to the
forward alone. They are the contract's one-line definitions, not an implementation
of any graded backward pass.
"""

import numpy as np


def relu(Z: np.ndarray) -> np.ndarray:
    """max(Z, 0) elementwise."""
    return np.maximum(Z, 0.0)


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (m, k) logits, with the row maximum subtracted."""
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(Y: np.ndarray, Y_hat: np.ndarray) -> float:
    """-(1/m) * sum(Y * ln(Y_hat))."""
    return float(-np.sum(Y * np.log(Y_hat)) / Y.shape[0])
