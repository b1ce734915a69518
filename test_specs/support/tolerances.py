"""Tolerances that follow the contract: what it allows a correct answer to differ by."""

import numpy as np


def log_slack(Y_, P) -> float:
    """How far the contract's allowed epsilon (up to 1e-8 inside the log, or clipping there) moves the loss."""
    return 1.01 * float(np.sum(Y_ * 1e-8 / P)) / Y_.shape[0] + 1e-12


def grad_rtol(P) -> float:
    """The same allowance for -(1/m) Y / Y_hat: 1e-8 added to Y_hat changes it by up to 1e-8 / Y_hat, relatively."""
    return max(1e-6, 1.01e-8 / float(np.min(P)))
