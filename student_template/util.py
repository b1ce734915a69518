"""Data loading and experiment logging for the Iris part of PA3.

Students may change the pre-processing here; the graded tests use the
grader's own fixed split and pre-processing.
"""

import json
import os
from typing import Iterator, NamedTuple

import numpy as np


class Split(NamedTuple):
    """One part of the data: features X (n, d) and one-hot labels Y (n, k)."""

    X: np.ndarray
    Y: np.ndarray


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels (n,) to one-hot rows (n, n_classes)."""
    return np.eye(n_classes)[labels]


def load_iris_csv(path: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read scikit-learn's iris.csv: header ``n,d,name0,name1,...``, then d features and a label per row."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1].astype(int), header[2:]


class Dataset:
    """Iris, standardised with training statistics, split into train / validate / test.

    ``sample()`` iterates over one epoch of shuffled training mini-batches.
    """

    def __init__(self, path: str = "data/iris.csv", batch_size: int = 16,
                 val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0) -> None:
        X, labels, self.class_names = load_iris_csv(path)
        Y = one_hot(labels, len(self.class_names))
        self.batch_size = batch_size
        self._rng = np.random.default_rng(seed)
        order = self._rng.permutation(len(X))
        n_val, n_test = int(round(val_frac * len(X))), int(round(test_frac * len(X)))
        test, val, train = np.split(order, [n_test, n_test + n_val])
        mean, std = X[train].mean(axis=0), X[train].std(axis=0)
        standardise = lambda idx: Split((X[idx] - mean) / std, Y[idx])  # noqa: E731
        self.train, self.validate, self.test = standardise(train), standardise(val), standardise(test)

    def sample(self, batch_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (X, Y) mini-batches covering the training split once, in a fresh random order."""
        batch_size = batch_size or self.batch_size
        order = self._rng.permutation(len(self.train.X))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            yield self.train.X[idx], self.train.Y[idx]


class Logger:
    """Records per-epoch loss and error; saves them, the parameters and the hyperparameters.

    Files go under ``experiments/<model_name>/``.
    """

    def __init__(self, model_name: str, model_args: dict, save_dir: str = "experiments") -> None:
        self.model_name = model_name
        self.model_args = model_args
        self.save_dir = os.path.join(save_dir, model_name)
        self.log = {"loss": {"train": [], "validate": []}, "error": {"train": [], "validate": []}}

    def push(self, epoch_log: dict) -> None:
        """Append one epoch: ``{"loss": {"train": x, "validate": y}, "error": {...}}``."""
        for metric, splits in epoch_log.items():
            for split, value in splits.items():
                self.log[metric][split].append(float(value))

    def save(self) -> None:
        """Write the hyperparameters and the log as JSON."""
        os.makedirs(self.save_dir, exist_ok=True)
        with open(os.path.join(self.save_dir, "hyperparameters.json"), "w") as f:
            json.dump(self.model_args, f, indent=2, default=str)
        with open(os.path.join(self.save_dir, "log.json"), "w") as f:
            json.dump(self.log, f, indent=2)

    def save_parameters(self, parameters: dict, epoch: int) -> None:
        """Save a {name: array} dict of parameters for ``epoch`` as .npz."""
        os.makedirs(self.save_dir, exist_ok=True)
        np.savez(os.path.join(self.save_dir, f"parameters_epoch{epoch}.npz"), **parameters)

    def plot(self, metric: str = "loss"):
        """Plot ``metric`` per epoch for train and validate; return the figure and save it as PNG."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        for split, values in self.log[metric].items():
            ax.plot(range(1, len(values) + 1), values, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{self.model_name}: {metric}")
        ax.legend()
        os.makedirs(self.save_dir, exist_ok=True)
        fig.savefig(os.path.join(self.save_dir, f"{metric}.png"))
        return fig
