"""Submissions for the harness's own tests, derived from reference/ by exact replacements.

Every replacement must apply, so a variant can never silently equal the reference.
"""

from __future__ import annotations

import ast
import shutil
import zipfile
from pathlib import Path

from grader import REFERENCE_DIR, TEMPLATE_DIR
from test_specs.contract import DATA_FILES, NOTEBOOK, SUBMITTED_MODULES, TEMPLATE_FILES

SUBMITTED = tuple(f"{m}.py" for m in SUBMITTED_MODULES) + (NOTEBOOK,)


def build(dest: Path, edits: dict[str, list[tuple[str, str]]] | None = None, extra: dict[str, str] | None = None,
          drop: tuple[str, ...] = (), rename: dict[str, str] | None = None, crlf: bool = False) -> Path:
    """A submission folder at ``dest``: the reference's submitted files with ``edits`` applied."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SUBMITTED:
        if name in drop:
            continue
        text = (REFERENCE_DIR / name).read_text()
        for old, new in (edits or {}).get(name, []):
            if old not in text:
                raise AssertionError(f"corpus edit does not apply to {name}: {old!r}")
            text = text.replace(old, new)
        if crlf:
            text = text.replace("\n", "\r\n")
        (dest / (rename or {}).get(name, name)).write_bytes(text.encode())
    (dest / "PA3_qa.pdf").write_bytes(b"%PDF-1.4\n% answers\n")
    for name, text in (extra or {}).items():
        (dest / name).write_text(text)
    return dest


def zip_folder(folder: Path, archive: Path, inside: str | None = None, junk: bool = False) -> Path:
    """Zip a folder the way students do: optionally inside one top-level folder, with macOS junk."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                zf.write(path, f"{inside}/{name}" if inside else name)
        if junk:
            zf.writestr("__MACOSX/._activations.py", b"\x00\x05\x16\x07junk")
            zf.writestr(f"{inside or ''}/.DS_Store".lstrip("/"), b"\x00\x00\x00\x01Bud1")
            zf.writestr(f"{inside or ''}/__pycache__/layers.cpython-311.pyc".lstrip("/"), b"garbage")
    return archive


# ---- correct implementations in other styles: full marks ---------------------------------------

CORRECT = {
    "einsum_where_clip": {
        "activations.py": [("return np.maximum(Z, 0.0)", "return np.where(Z > 0, Z, 0.0)"),
                           ("return dY * (Z > 0)", "return np.where(Z > 0, dY, 0.0)")],
        "layers.py": [("Z = X @ W + b", 'Z = np.einsum("mi,io->mo", X, W) + b'),
                      ('self.gradients["W"] = X.T @ dLdZ', 'self.gradients["W"] = np.einsum("mi,mo->io", X, dLdZ)'),
                      ('return dLdZ @ self.parameters["W"].T',
                       'return np.einsum("mo,io->mi", dLdZ, self.parameters["W"])')],
        "loss.py": [("return -np.sum(Y * np.log(Y_hat)) / m",
                     "return -np.sum(Y * np.log(np.clip(Y_hat, 1e-12, 1.0))) / m"),
                    ("return -Y / (m * Y_hat)", "return -Y / np.clip(Y_hat, 1e-12, None) / m")],
    },
    "loop_in_softmax_backward": {
        "activations.py": [("        Y = self.forward(Z)\n"
                            "        return Y * (dY - np.sum(Y * dY, axis=1, keepdims=True))",
                            "        Y = self.forward(Z)\n        dZ = np.empty_like(dY)\n"
                            "        for i in range(Z.shape[0]):\n"
                            "            y = Y[i].reshape(-1, 1)\n"
                            "            jacobian = np.diagflat(y) - y @ y.T\n"
                            "            dZ[i] = jacobian @ dY[i]\n"
                            "        return dZ")],
    },
    "other_idioms": {
        "activations.py": [("return dY * (Z > 0)", "return dY * (Z >= 0).astype(float)"),
                           ("exps = np.exp(Z - Z.max(axis=1, keepdims=True))",
                            "exps = np.exp(Z - np.max(Z, axis=1)[:, None])")],
        "layers.py": [('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                       'self.gradients["b"] = np.sum(dLdZ, axis=0).reshape(1, -1)')],
        "loss.py": [("return -np.sum(Y * np.log(Y_hat)) / m",
                     "return float(np.mean(-np.sum(Y * np.log(Y_hat), axis=1)))")],
        "model.py": [("L = self.loss.forward(target, out)", "L = self.loss(target, out)"),
                     ("return Y_hat, self.loss.forward(Y, Y_hat)", "return [Y_hat, self.loss(Y, Y_hat)]")],
    },
}

# ---- one-line bugs: (file, old, new, member that must lose points) ------------------------------

MUTANTS = {
    "relu_forward_abs": ("activations.py", "return np.maximum(Z, 0.0)", "return np.abs(Z)", "ReLU.forward"),
    "relu_backward_ignores_dY": ("activations.py", "return dY * (Z > 0)", "return 1.0 * (Z > 0)", "ReLU.backward"),
    "softmax_unstable": ("activations.py", "exps = np.exp(Z - Z.max(axis=1, keepdims=True))", "exps = np.exp(Z)",
                         "SoftMax.forward"),
    "softmax_backward_diagonal_only": ("activations.py", "return Y * (dY - np.sum(Y * dY, axis=1, keepdims=True))",
                                       "return Y * dY", "SoftMax.backward"),
    "fc_forward_no_bias": ("layers.py", "Z = X @ W + b", "Z = X @ W", "FullyConnectedLayer.forward"),
    "fc_forward_row_loop": ("layers.py", "Z = X @ W + b", "Z = np.array([x @ W for x in X]) + b",
                            "FullyConnectedLayer.forward"),
    "fc_backward_mean_bias": ("layers.py", 'self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                              'self.gradients["b"] = dLdZ.mean(axis=0, keepdims=True)', "FullyConnectedLayer.backward"),
    "fc_backward_accumulates": ("layers.py", 'self.gradients["W"] = X.T @ dLdZ', 'self.gradients["W"] += X.T @ dLdZ',
                                "FullyConnectedLayer.backward"),
    "ce_forward_sum": ("loss.py", "return -np.sum(Y * np.log(Y_hat)) / m", "return -np.sum(Y * np.log(Y_hat))",
                       "CrossEntropyLoss.forward"),
    "ce_backward_no_mean": ("loss.py", "return -Y / (m * Y_hat)", "return -Y / Y_hat", "CrossEntropyLoss.backward"),
    "model_forward_skips_last": ("model.py", "        for layer in self.layers:\n            X = layer.forward(X)",
                                 "        for layer in self.layers[:-1]:\n            X = layer.forward(X)",
                                 "NeuralNetworkModel.forward"),
    "model_backward_wrong_order": ("model.py", "for layer in reversed(self.layers):", "for layer in self.layers:",
                                   "NeuralNetworkModel.backward"),
    "model_predict_zero_loss": ("model.py", "return Y_hat, self.loss.forward(Y, Y_hat)", "return Y_hat, 0.0",
                                "NeuralNetworkModel.predict"),
}


# ---- a student half-way through: template files with some members taken from the reference -----------

HALF_DONE = ("ReLU.forward", "ReLU.backward", "SoftMax.forward", "SoftMax.backward", "FullyConnectedLayer.forward",
             "FullyConnectedLayer.backward", "CrossEntropyLoss.forward", "NeuralNetworkModel.forward")


def _methods(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {f"{c.name}.{f.name}": f for c in tree.body if isinstance(c, ast.ClassDef)
            for f in c.body if isinstance(f, ast.FunctionDef)}


def half_finished(dest: Path, done: tuple[str, ...] = HALF_DONE) -> Path:
    """The template with the ``done`` members' bodies from the reference, FullyConnectedLayer.backward with a bug
    (the mean over the batch for gradients['b'], not the sum), the rest still stubs; PA3_qa.pdf present."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TEMPLATE_DIR / "data", dest / "data")
    for name in (f for f in TEMPLATE_FILES if f not in DATA_FILES):
        text = (TEMPLATE_DIR / name).read_text()
        if name.endswith(".py"):
            lines, ref_lines = (text.splitlines(keepends=True),
                                (REFERENCE_DIR / name).read_text().splitlines(keepends=True))
            ref = _methods(ast.parse("".join(ref_lines)))
            # bottom-up, so earlier line numbers stay valid
            for member, node in sorted(_methods(ast.parse(text)).items(), key=lambda kv: -kv[1].lineno):
                if member in done:
                    lines[node.lineno - 1:node.end_lineno] = ref_lines[ref[member].lineno - 1:ref[member].end_lineno]
            text = "".join(line for line in lines if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))
        if name == "layers.py":
            bug = ('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                   'self.gradients["b"] = dLdZ.mean(axis=0, keepdims=True)')
            assert bug[0] in text
            text = text.replace(*bug)
        (dest / name).write_text(text)
    (dest / "PA3_qa.pdf").write_bytes(b"%PDF-1.4\n% answers\n")
    return dest


# ---- real-world variants: how students write each class of answer (written for this suite) -----------------
# name -> (edits, {member: points lost}, {member: text its failure must show}). Every member not named keeps
# all its points: one mistake costs one member, and the message names the real cause.

_FC_BACKWARD = ('        dLdZ = self.activation.backward(Z, dLdY)\n'
                '        self.gradients["W"] = X.T @ dLdZ\n'
                '        self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)\n')

REAL = {
    "bias_gradient_1d": (
        {"layers.py": [('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                        'self.gradients["b"] = np.sum(dLdZ, axis=0)')]},
        {"FullyConnectedLayer.backward": 7}, {"FullyConnectedLayer.backward": "keepdims=True"}),
    "bias_gradient_batch_mean": (
        {"layers.py": [('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                        'self.gradients["b"] = np.mean(dLdZ, axis=0).reshape(1, -1)')]},
        {"FullyConnectedLayer.backward": 5}, {"FullyConnectedLayer.backward": "sum over the batch where you take"}),
    "softmax_batch_wide_max": (
        {"activations.py": [("exps = np.exp(Z - Z.max(axis=1, keepdims=True))", "exps = np.exp(Z - np.max(Z))")]},
        {"SoftMax.forward": 1}, {"SoftMax.forward": "each row's own maximum"}),
    "log_with_epsilon": (
        {"loss.py": [("return -np.sum(Y * np.log(Y_hat)) / m", "return -np.sum(Y * np.log(Y_hat + 1e-8)) / m"),
                     ("return -Y / (m * Y_hat)", "return -Y / (m * (Y_hat + 1e-8))")]}, {}, {}),
    "log_clipped": (
        {"loss.py": [("return -np.sum(Y * np.log(Y_hat)) / m",
                      "Y_hat = np.clip(Y_hat, 1e-8, 1 - 1e-8)\n        return -np.sum(Y * np.log(Y_hat)) / m")]},
        {}, {}),
    "unused_vectorize_line": (
        {"activations.py": [("        return np.maximum(Z, 0.0)",
                             "        f = np.vectorize(lambda z: max(z, 0.0))  # tried this first, too slow\n"
                             "        return np.maximum(Z, 0.0)")]}, {}, {}),
    "vectorize_applied": (
        {"activations.py": [("        return np.maximum(Z, 0.0)",
                             "        f = np.vectorize(lambda z: max(z, 0.0))\n        return f(Z).astype(float)")]},
        {"ReLU.forward": 1}, {"ReLU.forward": "f(Z).astype(float)"}),
    "backward_reads_its_own_cache_keys": (
        {"layers.py": [('        self.cache["X"] = X\n        self.cache["Z"] = Z\n',
                        '        self.cache["input"] = X\n        self.cache["z"] = Z\n'),
                       ('X, Z = self.cache["X"], self.cache["Z"]', 'X, Z = self.cache["input"], self.cache["z"]'),
                       ('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                        'self.gradients["b"] = dLdZ.mean(axis=0, keepdims=True)')]},
        {"FullyConnectedLayer.forward": 1, "FullyConnectedLayer.backward": 5},
        {"FullyConnectedLayer.backward": "sum over the batch where you take the mean"}),
    "forward_caches_the_activation_output": (
        {"layers.py": [('        self.cache["Z"] = Z\n        return self.activation(Z)',
                        '        self.cache["Z"] = self.activation(Z)\n        return self.cache["Z"]')]},
        {"FullyConnectedLayer.forward": 1}, {"FullyConnectedLayer.forward": "before the activation"}),
    "forward_without_bias_backward_with_batch_mean": (
        {"layers.py": [("Z = X @ W + b", "Z = X @ W"),
                       ('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                        'self.gradients["b"] = dLdZ.mean(axis=0, keepdims=True)')]},
        {"FullyConnectedLayer.forward": 9, "FullyConnectedLayer.backward": 5},
        {"FullyConnectedLayer.backward": "so the test put X and Z = X W + b in the cache itself"}),
    "cache_with_integer_keys": (
        {"layers.py": [('        self.cache["X"] = X\n        self.cache["Z"] = Z\n',
                        '        self.cache[0] = X\n        self.cache[1] = Z\n'),
                       ('X, Z = self.cache["X"], self.cache["Z"]', 'X, Z = self.cache[0], self.cache[1]')]},
        {"FullyConnectedLayer.forward": 1}, {"FullyConnectedLayer.forward": "got:      OrderedDict("}),
    "softmax_backward_diagonal_only": (
        {"activations.py": [("return Y * (dY - np.sum(Y * dY, axis=1, keepdims=True))", "return Y * (1 - Y) * dY")]},
        {"SoftMax.backward": 7}, {"SoftMax.backward": "rows of dL/dZ do not sum to 0"}),
    "activation_backward_as_elementwise_derivative": (
        {"layers.py": [("dLdZ = self.activation.backward(Z, dLdY)",
                        "dLdZ = dLdY * self.activation.backward(Z, np.ones_like(dLdY))")]},
        {"FullyConnectedLayer.backward": 1}, {"FullyConnectedLayer.backward": "softmax activation"}),
    "accumulating_gradients": (
        {"layers.py": [(_FC_BACKWARD, '        dLdZ = self.activation.backward(Z, dLdY)\n'
                                      '        self.gradients["W"] += X.T @ dLdZ\n'
                                      '        self.gradients["b"] += dLdZ.sum(axis=0, keepdims=True)\n')]},
        {"FullyConnectedLayer.backward": 1}, {"FullyConnectedLayer.backward": "do not add to them (+=)"}),
    "relu_writes_into_its_input": (
        {"activations.py": [("        return np.maximum(Z, 0.0)", "        Z[Z < 0] = 0\n        return Z")]},
        {"ReLU.forward": 1}, {"ReLU.forward": "modified its input array in place"}),
    "gradient_under_another_key": (
        {"layers.py": [('self.gradients["b"] = dLdZ.sum(axis=0, keepdims=True)',
                        'self.gradients["db"] = dLdZ.sum(axis=0, keepdims=True)')]},
        {"FullyConnectedLayer.backward": 7}, {"FullyConnectedLayer.backward": "stored gradients under other keys"}),
    "model_correct_on_broken_layers": (
        {"layers.py": [('return dLdZ @ self.parameters["W"].T', 'return dLdZ @ self.parameters["W"]')]},
        {"FullyConnectedLayer.backward": 13}, {"FullyConnectedLayer.backward": "ValueError"}),
    "loss_mean_over_every_entry": (
        {"loss.py": [("return -np.sum(Y * np.log(Y_hat)) / m", "return -np.mean(Y * np.log(Y_hat))")]},
        {"CrossEntropyLoss.forward": 8}, {"CrossEntropyLoss.forward": "divide by the batch size m only"}),
    "model_loss_arguments_swapped": (
        {"model.py": [("L = self.loss.forward(target, out)", "L = self.loss.forward(out, target)")]},
        {"NeuralNetworkModel.backward": 4}, {"NeuralNetworkModel.backward": "the loss takes (target, out)"}),
    "loss_backward_sums_where_the_contract_means": (
        {"loss.py": [("return -Y / (m * Y_hat)", "return -Y / Y_hat")]},
        {"CrossEntropyLoss.backward": 5}, {"CrossEntropyLoss.backward": "divide by the batch size m"}),
    "model_backward_inline_loss_gradient": (
        {"model.py": [("dL = self.loss.backward(target, out)", "dL = -target / out / target.shape[0]")]}, {}, {}),
    "predict_through_backward": (
        {"model.py": [("return Y_hat, self.loss.forward(Y, Y_hat)", "return Y_hat, self.backward(Y, Y_hat)")]},
        {}, {}),
    "model_backward_forward_order": (
        {"model.py": [("for layer in reversed(self.layers):", "for layer in self.layers:")]},
        {"NeuralNetworkModel.backward": 6}, {"NeuralNetworkModel.backward": "call 1 went to layer 1.backward"}),
    "model_forward_skips_the_last_layer": (
        {"model.py": [("        for layer in self.layers:\n            X = layer.forward(X)",
                       "        for layer in self.layers[:-1]:\n            X = layer.forward(X)")]},
        {"NeuralNetworkModel.forward": 9}, {"NeuralNetworkModel.forward": "returned layer 1's output"}),
}
