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
        self.memo: dict = {}  # what specs learnt about this submission once, for the others (e.g. a probe)

    def layer_activation(self) -> str:
        """"relu" when the student's ReLU is right, else the provided "linear".

        Layer tests use it so that a ReLU bug is charged to ReLU alone, not to the layer too.
        """
        if self._layer_activation is None:
            Z, dY = np.array([[-1.5, 2.0, 0.5], [3.0, -0.25, -4.0]]), np.arange(1.0, 7.0).reshape(2, 3)
            try:
                relu = self.relu()
                out, (Z_after,) = relu.call_echo("forward", Z.copy())
                ok = (np.array_equal(out, Z * (Z > 0)) and np.array_equal(Z_after, Z)  # a ReLU writing into Z
                      and np.array_equal(relu.call("backward", Z, dY), dY * (Z > 0)))  # would change the layer's cache
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
            self._broken = []
            for name, probe in PROBES.items():  # the layer's probe uses only the activations that passed theirs
                if not _passes(probe, self, self._broken):
                    self._broken.append(name)
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


# ---- quick probes of the members the model relies on: hand-checked values, no working formula -----------

_RELU_Z = np.array([[-1.5, 2.0, 0.5], [3.0, -0.25, -4.0]])
_RELU_D = np.arange(1.0, 7.0).reshape(2, 3)
# Row 1: probabilities 1/6, 1/3, 1/2, shifted by 500 (a batch-wide maximum underflows row 2); row 2: uniform.
_SM_Z = np.log(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]])) + np.array([[500.0], [0.0]])
_SM_Y = np.array([[1 / 6, 1 / 3, 1 / 2], [1 / 3, 1 / 3, 1 / 3]])
_SM_D = np.array([[1.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
_SM_DZ = np.array([[5 / 36, -1 / 18, -1 / 12], [-1 / 3, 2 / 3, -1 / 3]])
_CE_Y, _CE_P = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.5, 0.5], [0.25, 0.75]])
_CE_L, _CE_G = -(np.log(0.5) + np.log(0.75)) / 2, np.array([[-1.0, 0.0], [0.0, -2 / 3]])
_FC_X, _FC_W, _FC_B = np.array([[1.0, 2.0], [-1.0, 3.0]]), np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]]), \
    np.array([[0.5, 0.0, -2.0]])
_FC_Z = np.array([[1.5, 2.0, -1.0], [-0.5, 3.0, 2.0]])
_FC_DW, _FC_DB, _FC_DX = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]), np.array([[2.0, 2.0, 2.0]]), \
    np.array([[0.0, 2.0], [0.0, 2.0]])


def _close(got, expected) -> bool:
    return isinstance(got, np.ndarray) and got.shape == expected.shape and bool(np.allclose(got, expected))


def _probe_relu(s, _broken):
    relu = s.relu()
    out, (Z_after,) = relu.call_echo("forward", _RELU_Z.copy())
    return (_close(out, _RELU_Z * (_RELU_Z > 0)) and _close(Z_after, _RELU_Z)
            and _close(relu.call("backward", _RELU_Z, _RELU_D), _RELU_D * (_RELU_Z > 0)))


def _probe_softmax(s, _broken):
    softmax = s.softmax()
    return _close(softmax.call("forward", _SM_Z), _SM_Y) and _close(softmax.call("backward", _SM_Z, _SM_D), _SM_DZ)


def _probe_loss(s, _broken):
    loss = s.cross_entropy()
    value = np.asarray(loss.call("forward", _CE_Y, _CE_P), dtype=np.float64)
    return value.size == 1 and np.isclose(value.reshape(()), _CE_L) and _close(loss.call("backward", _CE_Y, _CE_P),
                                                                               _CE_G)


def _probe_layer(s, broken):
    """The layer with each activation the model uses (linear, relu, softmax), forward then backward."""
    layer = s.layer_with(_FC_W, _FC_B, "linear")
    if not _close(layer.call("forward", _FC_X), _FC_Z):
        return False
    dX = layer.call("backward", np.ones((2, 3)))
    if not (_close(dX, _FC_DX) and _close(layer.get("gradients", "W"), _FC_DW)
            and _close(layer.get("gradients", "b"), _FC_DB)):
        return False
    relu = s.layer_with(_FC_W, _FC_B, "relu")
    mask = _FC_Z > 0
    if "ReLU" not in broken and not (_close(relu.call("forward", _FC_X), _FC_Z * mask)
                                     and _close(relu.call("backward", np.ones((2, 3))), mask @ _FC_W.T)):
        return False
    if "SoftMax" in broken:
        return True
    X = np.array([[1.0, 1.0], [0.0, 1.0]])
    b = np.array([[0.5, -1.0, 2.0]])
    W = np.linalg.solve(X, _SM_Z - b)
    softmax = s.layer_with(W, b, "softmax")
    return (_close(softmax.call("forward", X), _SM_Y) and _close(softmax.call("backward", _SM_D), _SM_DZ @ W.T)
            and _close(softmax.get("gradients", "W"), X.T @ _SM_DZ))


PROBES = {"ReLU": _probe_relu, "SoftMax": _probe_softmax, "CrossEntropyLoss": _probe_loss,
          "FullyConnectedLayer": _probe_layer}


def _passes(probe, student, broken: list[str]) -> bool:
    try:
        return bool(probe(student, broken))
    except Exception:  # noqa: BLE001 - any failure means the member is not usable end to end
        return False
