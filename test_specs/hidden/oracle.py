"""The trusted oracle for hidden tests. Written independently of reference/ (explicit Jacobians, einsum)
and never copied into the sandbox or the student bundle."""

from __future__ import annotations

import numpy as np


def relu(Z):
    return np.where(Z > 0, Z, 0.0)


def relu_grad(Z, dY):
    return np.where(Z > 0, dY, 0.0)


def softmax(Z):
    shifted = Z - np.max(Z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_grad(Z, dY):
    Y = softmax(Z)
    jacobians = np.einsum("ij,jk->ijk", Y, np.eye(Z.shape[1])) - np.einsum("ij,ik->ijk", Y, Y)
    return np.einsum("ijk,ik->ij", jacobians, dY)


ACTIVATIONS = {"linear": (lambda Z: Z, lambda Z, dY: dY), "relu": (relu, relu_grad), "softmax": (softmax, softmax_grad)}


def dense(X, W, b, activation):
    return ACTIVATIONS[activation][0](np.einsum("mi,io->mo", X, W) + b)


def dense_grads(X, W, b, activation, dY):
    Z = X @ W + b
    dZ = ACTIVATIONS[activation][1](Z, dY)
    return {"W": np.einsum("mi,mo->io", X, dZ), "b": dZ.sum(axis=0)[None, :], "X": np.einsum("mo,io->mi", dZ, W)}


def cross_entropy(Y, P):
    return float(-np.mean(np.sum(Y * np.log(P), axis=1)))


def cross_entropy_grad(Y, P):
    return -Y / P / Y.shape[0]
