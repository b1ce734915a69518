"""The student's code, reached through the sandbox in the contract's terms."""

from __future__ import annotations

import ast

import numpy as np

from test_specs.contract import MEMBER_MODULE, SIGNATURES
from test_specs.support.compare import fail
from test_specs.support.loops import TooComplex, batch_loops, parse


class Student:
    def __init__(self, sandbox, sources: dict[str, str], problems: dict[str, str]) -> None:
        self.sb = sandbox
        self.sources = sources
        self.problems = problems
        self._layer_activation: str | None = None
        self._broken: list[str] | None = None

    def layer_activation(self) -> str:
        """"relu" when the student's ReLU is right, else the provided "linear".

        Layer tests use it so that a ReLU bug is charged to ReLU alone, not to the layer too.
        """
        if self._layer_activation is None:
            Z, dY = np.array([[-1.5, 2.0, 0.5], [3.0, -0.25, -4.0]]), np.arange(1.0, 7.0).reshape(2, 3)
            try:
                relu = self.relu()
                ok = (np.array_equal(relu.call("forward", Z), Z * (Z > 0))
                      and np.array_equal(relu.call("backward", Z, dY), dY * (Z > 0)))
            except Exception:  # noqa: BLE001 - any failure means ReLU is not usable here
                ok = False
            self._layer_activation = "relu" if ok else "linear"
        return self._layer_activation

    def broken_members(self) -> list[str]:
        """The student's own members, among those the model runs, that fail a quick probe on fixed inputs.

        End-to-end checks (Iris) run on the student's own members; one is charged to the model only when
        every member it relies on answers right here, so a bug in a layer is not charged a second time.
        """
        if self._broken is None:
            self._broken = [name for name, probe in PROBES.items() if not _passes(probe, self)]
        return self._broken

    def relu(self):
        return self.sb.new("activations", "ReLU")

    def softmax(self):
        return self.sb.new("activations", "SoftMax")

    def cross_entropy(self):
        return self.sb.new("loss", "CrossEntropyLoss")

    def layer(self, n_out: int, activation: str):
        return self.sb.new("layers", "FullyConnectedLayer", n_out=n_out, activation=activation)

    def layer_with(self, W: np.ndarray, b: np.ndarray, activation: str):
        """A layer whose parameters are W (n_in, n_out) and b (1, n_out), set through the provided _init_parameters."""
        layer = self.layer(W.shape[1], activation)
        layer.call("_init_parameters", (1, W.shape[0]))
        layer.set("parameters", "W", value=W)
        layer.set("parameters", "b", value=b)
        return layer

    def model(self, sizes: tuple[int, ...], activations: tuple[str, ...], lr: float = 0.1, momentum: float = 0.0,
              seed: int = 0):
        layer_args = [{"name": "fully_connected", "n_out": n, "activation": a} for n, a in zip(sizes, activations)]
        return self.sb.new("model", "NeuralNetworkModel", "cross_entropy", layer_args,
                           {"name": "SGD", "lr": lr, "momentum": momentum}, seed=seed, timeout=20)

    # -- source checks (ast only; nothing runs) ---------------------------------------------

    def source(self, module: str) -> str:
        if module in self.problems:
            fail(module + ".py", self.problems[module])
        return self.sources[module]

    def parsed(self, module: str, member: str) -> ast.Module:
        """The module's tree (parsed once, within the loop rule's bounds)."""
        try:
            return parse(self.source(module))
        except (TooComplex, SyntaxError) as exc:
            fail(member, f"{module}.py cannot be checked: {exc}", "keep the source plain: no deeply nested expressions")

    def check_prototype(self, member: str) -> None:
        """The member exists with the contract's parameter names, in order."""
        module = MEMBER_MODULE[member]
        tree = self.parsed(module, member)
        cls, method = member.split(".")
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        if cls not in classes:
            fail(member, f"class {cls} is not defined in {module}.py", "keep the class names of the starter code",
                 found=", ".join(sorted(classes)) or "no classes")
        methods = {n.name: n for n in classes[cls].body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if method not in methods:
            fail(member, f"{cls} has no method {method}", "keep the method names of the starter code",
                 found=", ".join(sorted(methods)) or "no methods")
        params = tuple(a.arg for a in methods[method].args.args)
        expected = SIGNATURES[member]
        if params[: len(expected)] != expected or len(params) > len(expected) + len(methods[method].args.defaults):
            fail(member, "the parameters differ from the starter code's prototype", "use the prototype provided",
                 expected=f"{method}({', '.join(expected)})", got=f"{method}({', '.join(params)})")

    def check_no_batch_loop(self, member: str) -> None:
        module = MEMBER_MODULE[member]
        try:
            findings = batch_loops(self.source(module), member)
        except KeyError:
            fail(member, f"not found in {module}.py")
        except (TooComplex, SyntaxError) as exc:  # the rule is not shown to hold: no points for it
            fail(member, f"{module}.py could not be checked for loops over the batch: {exc}",
                 "keep the source plain: no deeply nested or enormous expressions")
        if findings:
            fail(member, "loops over the rows of the mini-batch; it must be vectorised",
                 "use whole-array NumPy operations (broadcasting, sum(axis=...), @) instead of a Python loop",
                 found="\n" + "\n".join(f"    {f}" for f in findings))


# ---- quick probes of the members the model relies on (the contract's one-line formulas) -----------------

_Z = np.array([[-1.5, 2.0, 0.5], [300.0, -0.25, 299.0]])  # rows of very different scales
_D = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
_Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
_P = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])


def _softmax(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _close(got, expected) -> bool:
    return isinstance(got, np.ndarray) and got.shape == expected.shape and bool(np.allclose(got, expected))


def _probe_relu(s):
    relu = s.relu()
    return _close(relu.call("forward", _Z), np.maximum(_Z, 0)) and _close(relu.call("backward", _Z, _D), _D * (_Z > 0))


def _probe_softmax(s):
    sm, Y = s.softmax(), _softmax(_Z)
    return _close(sm.call("forward", _Z), Y) and _close(
        sm.call("backward", _Z, _D), Y * (_D - np.sum(Y * _D, axis=1, keepdims=True)))


def _probe_loss(s):
    loss, m = s.cross_entropy(), _Y.shape[0]
    value = loss.call("forward", _Y, _P)
    return (np.isclose(float(np.asarray(value)), -np.sum(_Y * np.log(_P)) / m, rtol=1e-6)
            and _close(loss.call("backward", _Y, _P), -_Y / _P / m))


def _probe_layer(s):
    X, W, b = _D, np.array([[1.0, -0.5], [0.25, 2.0], [-1.0, 0.5]]), np.array([[0.5, -1.0]])
    layer = s.layer_with(W, b, "linear")
    if not _close(layer.call("forward", X), X @ W + b):
        return False
    dX = layer.call("backward", _P[:, :2])
    return (_close(dX, _P[:, :2] @ W.T) and _close(layer.get("gradients", "W"), X.T @ _P[:, :2])
            and _close(layer.get("gradients", "b"), _P[:, :2].sum(axis=0, keepdims=True)))


PROBES = {"ReLU": _probe_relu, "SoftMax": _probe_softmax, "CrossEntropyLoss": _probe_loss,
          "FullyConnectedLayer": _probe_layer}


def _passes(probe, student) -> bool:
    try:
        return bool(probe(student))
    except Exception:  # noqa: BLE001 - any failure means the member is not usable end to end
        return False
