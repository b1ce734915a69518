"""Fully-connected layer: ``Y = f(X W + b)``."""

from collections import OrderedDict

import numpy as np
from activations import initialize_activation


def initialize_weights(weight_init: str, shape: tuple) -> np.ndarray:
    """Draw a weight matrix of ``shape`` (n_in, n_out) from NumPy's global generator.

    "xavier_uniform" (Glorot): U(-a, a) with a = sqrt(6 / (n_in + n_out));
    "he_uniform": U(-a, a) with a = sqrt(6 / n_in); "zeros".
    """
    n_in, n_out = shape
    if weight_init == "xavier_uniform":
        limit = np.sqrt(6.0 / (n_in + n_out))
    elif weight_init == "he_uniform":
        limit = np.sqrt(6.0 / n_in)
    elif weight_init == "zeros":
        return np.zeros(shape)
    else:
        raise NotImplementedError(f"{weight_init} initialisation is not implemented")
    return np.random.uniform(-limit, limit, size=shape)


class FullyConnectedLayer:
    """A dense layer followed by an activation.

    Attributes
    ----------
    n_in        input width, None until the first forward pass
    n_out       output width
    activation  the Activation applied to ``Z = X W + b``
    parameters  OrderedDict {"W": (n_in, n_out), "b": (1, n_out)}
    gradients   OrderedDict {"W": (n_in, n_out), "b": (1, n_out)}
    cache       OrderedDict holding "X" and "Z" of the last forward pass
    """

    def __init__(self, n_out: int, activation: str, weight_init: str = "xavier_uniform") -> None:
        self.n_in = None
        self.n_out = n_out
        self.activation = initialize_activation(activation)
        self.weight_init = weight_init
        self.parameters = OrderedDict()
        self.gradients = OrderedDict()
        self.cache = OrderedDict()

    def _init_parameters(self, X_shape: tuple) -> None:
        """Set ``n_in`` from ``X_shape`` (m, n_in); draw W, zero b and the gradients."""
        self.n_in = X_shape[1]
        W = initialize_weights(self.weight_init, (self.n_in, self.n_out))
        b = np.zeros((1, self.n_out))
        self.parameters = OrderedDict({"W": W, "b": b})
        self.gradients = OrderedDict({"W": np.zeros_like(W), "b": np.zeros_like(b)})
        self.cache = OrderedDict()

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Forward pass ``Y = activation(X W + b)``.

        Initialises the parameters on the first call. Caches ``X`` and ``Z``
        for the backward pass.

        Parameters
        ----------
        X  input, shape (m, n_in)

        Returns
        -------
        Y, shape (m, n_out)
        """
        if self.n_in is None:
            self._init_parameters(X.shape)
        # BEGIN SOLUTION
        W, b = self.parameters["W"], self.parameters["b"]
        Z = X @ W + b
        self.cache["X"] = X
        self.cache["Z"] = Z
        return self.activation(Z)
        # END SOLUTION

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """Backward pass from the cache of the last forward pass.

        Fills ``gradients["W"] = X^T dLdZ`` (n_in, n_out) and
        ``gradients["b"]`` = column sums of dLdZ (1, n_out), overwriting any
        earlier values.

        Parameters
        ----------
        dLdY  gradient of the loss with respect to the output, shape (m, n_out)

        Returns
        -------
        dL/dX = dLdZ W^T, shape (m, n_in)
        """
        # BEGIN SOLUTION
        X, Z = self.cache["X"], self.cache["Z"]
        dLdZ = self.activation.backward(Z, dLdY)
        self.gradients["W"] = X.T @ dLdZ
        self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)
        return dLdZ @ self.parameters["W"].T
        # END SOLUTION

    def clear_gradients(self) -> None:
        """Reset the gradients to zeros and empty the cache."""
        self.cache = OrderedDict()
        self.gradients = OrderedDict((name, np.zeros_like(grad)) for name, grad in self.gradients.items())


def initialize_layer(name: str, n_out: int, activation: str,
                     weight_init: str = "xavier_uniform") -> FullyConnectedLayer:
    """Return the layer called ``name``: "fully_connected"."""
    if name == "fully_connected":
        return FullyConnectedLayer(n_out=n_out, activation=activation, weight_init=weight_init)
    raise NotImplementedError(f"{name} layer is not implemented")
