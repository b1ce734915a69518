"""Central-difference gradient checks of black-box functions (local or run in the sandbox)."""

from __future__ import annotations

from typing import Callable

import numpy as np

EPS = 1e-6
TOLERANCE = 1e-6


def numerical_gradient(loss: Callable[[np.ndarray], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """d loss / d x by central differences, one entry at a time; ``x`` is restored afterwards."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = loss(x.copy())
        x[index] = original - eps
        minus = loss(x.copy())
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def linear_probe(fn: Callable[[np.ndarray], np.ndarray], upstream: np.ndarray) -> Callable[[np.ndarray], float]:
    """The scalar ``sum(fn(x) * upstream)``, whose gradient is the backward pass of ``upstream``."""
    return lambda x: float(np.sum(np.asarray(fn(x), dtype=np.float64) * upstream))


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)``, 0 when both are 0."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - numeric) / denom)
