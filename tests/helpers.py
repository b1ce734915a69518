"""Helpers for the project's own tests."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

FLAT_MODULES = ("activations", "layers", "loss", "optimizer", "util", "model")


def load_flat(folder: Path, names: tuple[str, ...] = FLAT_MODULES) -> SimpleNamespace:
    """Import the flat modules of ``folder`` (reference or template) without leaking them into sys.modules.

    The modules import each other by bare name, so each load runs with ``folder``
    first on sys.path and a clean slate for those names.
    """
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        loaded = {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(folder))
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return SimpleNamespace(**loaded)


def processes_with(marker: str) -> list[str]:
    """PIDs of live processes whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            pass
    return found


def wait_for_processes(marker: str, count: int = 1, timeout: float = 30.0) -> list[str]:
    """``processes_with(marker)`` once at least ``count`` show up (or at ``timeout``). A process that has just
    exec'd can show an empty command line for a moment, after its parent's Popen has already returned."""
    deadline = time.monotonic() + timeout
    while len(found := processes_with(marker)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def call_member(ns, member: str):
    """Call a [student] member of ``ns`` with valid arguments of the contract's shapes."""
    X, Y = np.ones((2, 3)), np.eye(3)[[0, 1]]
    probs = np.full((2, 3), 1 / 3)
    cls, method = member.split(".")
    if cls in ("ReLU", "SoftMax"):
        obj = getattr(ns.activations, cls)()
        args = (X,) if method == "forward" else (X, X)
    elif cls == "CrossEntropyLoss":
        obj, args = ns.loss.CrossEntropyLoss(), (Y, probs)
    elif cls == "FullyConnectedLayer":
        obj = ns.layers.FullyConnectedLayer(n_out=3, activation="relu")
        obj._init_parameters(X.shape)
        obj.cache.update(X=X, Z=X)
        args = (X,)
    else:
        obj = ns.model.NeuralNetworkModel("cross_entropy",
                                          [{"name": "fully_connected", "n_out": 3, "activation": "softmax"}],
                                          {"name": "SGD", "lr": 0.1})
        args = {"forward": (X,), "backward": (Y, probs), "predict": (X, Y)}[method]
        if method == "backward":
            try:  # backward needs the layers' caches from a forward pass
                obj.forward(X)
            except NotImplementedError:
                pass
    return getattr(obj, method)(*args)
