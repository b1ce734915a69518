"""The grader's own fixed Iris split and pre-processing (independent of the student's util.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPLIT_SEED = 20240306
TEST_FRACTION = 0.3


def load(csv_path: Path) -> dict[str, np.ndarray]:
    """Stratified 70/30 split, features standardised with training statistics, one-hot training targets."""
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    X, labels = data[:, :4], data[:, 4].astype(int)
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cut = int(round(len(idx) * TEST_FRACTION))
        test += list(idx[:cut])
        train += list(idx[cut:])
    train, test = rng.permutation(train), np.array(sorted(test))
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    return {"X_train": (X[train] - mean) / std, "Y_train": np.eye(3)[labels[train]],
            "X_test": (X[test] - mean) / std, "y_test": labels[test]}
