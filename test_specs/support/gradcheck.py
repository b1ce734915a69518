"""Central-difference gradient checks of black-box functions (local or run in the sandbox)."""

from __future__ import annotations

from typing import Callable

import numpy as np

EPS = 1e-6
TOLERANCE = 1e-6


def numerical_gradient_many(losses_at: Callable[[list[np.ndarray]], list[float]], x: np.ndarray,
                            eps: float = EPS) -> np.ndarray:
    """d loss / d x by central differences, with every perturbed point evaluated in one call
    (``losses_at(points)``), so a sandboxed loss can run them all in one round trip."""
    x = np.array(x, dtype=np.float64)
    points = []
    for index in np.ndindex(x.shape):
        for sign in (1, -1):
            point = x.copy()
            point[index] = x[index] + sign * eps
            points.append(point)
    values = np.asarray(losses_at(points), dtype=np.float64).reshape(-1, 2)
    return ((values[:, 0] - values[:, 1]) / (2 * eps)).reshape(x.shape)


def numerical_gradient(loss: Callable[[np.ndarray], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """d loss / d x by central differences, one entry at a time."""
    return numerical_gradient_many(lambda points: [loss(p) for p in points], x, eps)


def linear_probe(fn: Callable[[np.ndarray], np.ndarray], upstream: np.ndarray) -> Callable[[np.ndarray], float]:
    """The scalar ``sum(fn(x) * upstream)``, whose gradient is the backward pass of ``upstream``."""
    return lambda x: float(np.sum(np.asarray(fn(x), dtype=np.float64) * upstream))


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)``, 0 when both are 0."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - numeric) / denom)
