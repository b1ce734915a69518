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
