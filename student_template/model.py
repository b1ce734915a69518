"""A feed-forward network built from fully-connected layers."""

from typing import Sequence

import numpy as np
from layers import initialize_layer
from loss import initialize_loss
from optimizer import initialize_optimizer
from util import Dataset, Logger


def error_rate(Y: np.ndarray, Y_hat: np.ndarray) -> float:
    """Fraction of rows whose predicted class (argmax of Y_hat) differs from the one-hot target Y."""
    return float(np.mean(Y_hat.argmax(axis=1) != Y.argmax(axis=1)))


class NeuralNetworkModel:
    """Layers applied in order, trained by back-propagation and an optimizer.

    Attributes
    ----------
    layers     list of FullyConnectedLayer, input to output
    n_layers   number of layers
    loss       the CrossEntropyLoss
    optimizer  the SGD optimizer
    logger     a Logger or None
    epoch_log  per-epoch "loss" and "error" for "train" and "validate",
               and the training loss of every iteration in "iteration_loss"
    """

    def __init__(self, loss: str, layer_args: Sequence[dict], optimizer_args: dict,
                 logger: Logger | None = None, seed: int | None = None) -> None:
        if seed is not None:
            np.random.seed(seed)
        self.layer_args = layer_args
        self.n_layers = len(layer_args)
        self.layers = [initialize_layer(**args) for args in layer_args]
        self.loss = initialize_loss(loss)
        self.optimizer = initialize_optimizer(**optimizer_args)
        self.logger = logger
        self.epoch_log = {"loss": {"train": [], "validate": []},
                          "error": {"train": [], "validate": []},
                          "iteration_loss": []}

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Run ``X`` (m, n_features) through every layer; return the last layer's output (m, n_classes)."""
        raise NotImplementedError("NeuralNetworkModel.forward is not implemented yet")

    def backward(self, target: np.ndarray, out: np.ndarray) -> float:
        """Back-propagate the loss of ``out`` against ``target`` (both (m, k)) through every layer.

        Leaves each layer's ``gradients`` filled; returns the loss.
        """
        raise NotImplementedError("NeuralNetworkModel.backward is not implemented yet")

    def predict(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float]:
        """Return the network output for ``X`` (m, n_features) and its loss against one-hot ``Y`` (m, k)."""
        raise NotImplementedError("NeuralNetworkModel.predict is not implemented yet")

    def update(self, epoch: int) -> None:
        """One optimizer step on every parameter of every layer, then clear the gradients."""
        for i, layer in enumerate(self.layers):
            for name, param in layer.parameters.items():
                layer.parameters[name] = self.optimizer.update(f"{name}{i}", param, layer.gradients[name], epoch)
            layer.clear_gradients()

    def train(self, dataset: Dataset, epochs: int) -> None:
        """Train for ``epochs`` passes over ``dataset``'s training split, logging every epoch."""
        for epoch in range(epochs):
            losses, errors = [], []
            for X, Y in dataset.sample():
                Y_hat = self.forward(X)
                losses.append(float(self.backward(Y, Y_hat)))
                errors.append(error_rate(Y, Y_hat))
                self.update(epoch)
            Y_hat, val_loss = self.predict(dataset.validate.X, dataset.validate.Y)
            epoch_log = {"loss": {"train": np.mean(losses), "validate": float(val_loss)},
                         "error": {"train": np.mean(errors), "validate": error_rate(dataset.validate.Y, Y_hat)}}
            for metric in ("loss", "error"):
                for split in ("train", "validate"):
                    self.epoch_log[metric][split].append(float(epoch_log[metric][split]))
            self.epoch_log["iteration_loss"].extend(losses)
            if self.logger is not None:
                self.logger.push(epoch_log)
                self.logger.save()

    def test(self, dataset: Dataset) -> float:
        """Return the error rate on ``dataset``'s test split."""
        Y_hat, _ = self.predict(dataset.test.X, dataset.test.Y)
        return error_rate(dataset.test.Y, Y_hat)
