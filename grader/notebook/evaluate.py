"""Accuracy of an exported TorchScript model on the FashionMNIST test split, with the grader's own loading.

Inputs are exactly what ``transforms.ToTensor()`` makes: float32 in [0, 1], shape (N, 1, 28, 28).
Run as ``python -m grader.notebook.evaluate MODEL ROOT`` in a clean process; prints JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def test_tensors(root: Path):
    """(images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64) of the test split under a torchvision root."""
    import torch

    from grader.fashion_data import load_split

    images, labels = load_split(root, "test")
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def accuracy(model_path: Path, root: Path, batch_size: int = 1000) -> dict:
    """{"accuracy", "n", "output_shape"} of the model at ``model_path`` on the test split."""
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = torch.jit.load(str(model_path), map_location="cpu").eval()
    X, y = test_tensors(root)
    correct, shape = 0, None
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size])
            if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != 10:
                got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                return {"accuracy": None, "n": len(X), "output_shape": got}
            shape = tuple(logits.shape)
            correct += int((logits.argmax(dim=1) == y[start:start + batch_size]).sum())
    return {"accuracy": correct / len(X), "n": len(X), "output_shape": shape}


if __name__ == "__main__":
    print(json.dumps(accuracy(Path(sys.argv[1]), Path(sys.argv[2]))))
