"""Judge an exported TorchScript model in a clean process: accuracy on the FashionMNIST test split with the
grader's own loading, and the architecture read from the exported graph. No student Python runs here.

Inputs are exactly what ``transforms.ToTensor()`` makes: float32 in [0, 1], shape (N, 1, 28, 28), or the same
images flattened to (N, 784) for a model exported with the "features" layout (pa3-api.md allows both).
Run as ``python -m grader.notebook.evaluate MODEL ROOT [images|features]``; prints one JSON object.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

CONV_OPS = ("conv", "convolution")


def test_tensors(root: Path):
    """(images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64) of the test split under a torchvision root."""
    import torch

    from grader.fashion_data import load_split

    images, labels = load_split(root, "test")
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def architecture(model) -> dict:
    """Module types that carry parameters, all module types, and the ops of the inlined graph."""
    with_params, types = [], []
    for module in model.modules():
        kind = getattr(module, "original_name", type(module).__name__)
        types.append(kind)
        if any(True for _ in module.named_parameters(recurse=False)):
            with_params.append(kind)
    ops = sorted({node.kind() for node in model.inlined_graph.nodes()})
    return {"parameterised": with_params, "modules": sorted(set(types)), "ops": ops,
            "convolution": any(any(c in op.lower() for c in CONV_OPS) for op in ops)}


def evaluate(model_path: Path, root: Path, layout: str = "images", batch_size: int = 1000) -> dict:
    """Accuracy and architecture of the TorchScript model at ``model_path`` on the test split under ``root``."""
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = torch.jit.load(str(model_path), map_location="cpu").eval()
    report = {"accuracy": None, "n": 0, "output_shape": None, "softmax_output": False, **architecture(model)}
    X, y = test_tensors(root)
    if layout == "features":
        X = X.reshape(len(X), 28 * 28)
    report["n"], report["input"] = len(X), layout
    correct, probability_rows = 0, 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size])
            if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != 10:
                report["output_shape"] = (list(logits.shape) if isinstance(logits, torch.Tensor)
                                          else type(logits).__name__)
                return report
            report["output_shape"] = [len(X), 10]
            correct += int((logits.argmax(dim=1) == y[start:start + batch_size]).sum())
            rows = logits.double()
            probability_rows += int(((rows >= 0).all(dim=1) & ((rows.sum(dim=1) - 1).abs() < 1e-4)).sum())
    report["accuracy"] = correct / len(X)
    report["softmax_output"] = probability_rows == len(X)  # every output row is a probability distribution
    return report


if __name__ == "__main__":
    print(json.dumps(evaluate(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])))
