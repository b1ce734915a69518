"""Small PA3.ipynb notebooks written the way students write them in Colab, for Section 2's tests.

Each trains a 784-128-10 MLP for 8 epochs on the synthetic set (a few seconds); a variant is the base
notebook with exact replacements, every one of which must apply.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests import corpus

IMPORTS = """import os
import matplotlib.pyplot as plt
import torch
import torchvision
from torch import nn
from torchvision import transforms

DATA_DIR = os.environ.get("PA3_DATA_DIR", "data")
torch.manual_seed(0)"""

DATA = """transform = transforms.ToTensor()
train_set = torchvision.datasets.FashionMNIST(root=DATA_DIR, train=True, download=True, transform=transform)
val_set = torchvision.datasets.FashionMNIST(root=DATA_DIR, train=False, download=True, transform=transform)
train_loader = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True)
val_loader = torch.utils.data.DataLoader(val_set, batch_size=1000)"""

MODEL = """model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
model"""

TRAIN = """device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = model.to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
train_losses, val_losses, train_accuracies, val_accuracies = [], [], [], []

for epoch in range(8):
    model.train()
    total, correct, loss_sum = 0, 0, 0.0
    for images, labels in train_loader:
        images, labels = images.to(device), labels.to(device)
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * labels.size(0)
        correct += (outputs.argmax(1) == labels).sum().item()
        total += labels.size(0)
    train_losses.append(loss_sum / total)
    train_accuracies.append(correct / total)

    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for images, labels in val_loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            loss_sum += criterion(outputs, labels).item() * labels.size(0)
            correct += (outputs.argmax(1) == labels).sum().item()
            total += labels.size(0)
    val_losses.append(loss_sum / total)
    val_accuracies.append(correct / total)
    print(f"Epoch {epoch + 1}: train loss {train_losses[-1]:.3f}, val acc {val_accuracies[-1]:.3f}")"""

def _plot(train: str, val: str, ylabel: str) -> str:
    return (f'plt.plot({train}, label="train")\nplt.plot({val}, label="validation")\nplt.xlabel("epoch")\n'
            f'plt.ylabel("{ylabel}")\nplt.legend()\nplt.show()')


LOSS_PLOT = _plot("train_losses", "val_losses", "loss")
ACCURACY_PLOT = _plot("train_accuracies", "val_accuracies", "accuracy")

BASE = {"imports": IMPORTS, "data": DATA, "model": MODEL, "train": TRAIN, "loss_plot": LOSS_PLOT,
        "accuracy_plot": ACCURACY_PLOT}
ORDER = ("imports", "data", "model", "train", "loss_plot", "accuracy_plot")

COLAB_MOUNT = "from google.colab import drive\ndrive.mount('/content/drive')"
COLAB_INSTALL = "!pip install -q torch torchvision tqdm\n!nvidia-smi"

# name: (replacements {cell: [(old, new)]}, cell order, extra cells {name: source})
VARIANTS = {
    "base": ({}, ORDER, {}),
    "flattened_input": ({"model": [("nn.Flatten(), nn.Linear(784", "nn.Linear(784")],
                         "train": [("images, labels = images.to(device)",
                                    "images, labels = images.view(-1, 784).to(device)")]},
                        ORDER, {}),
    "percent_history": ({"train": [("train_accuracies.append(correct / total)",
                                    "train_accuracies.append(100 * correct / total)"),
                                   ("val_accuracies.append(correct / total)",
                                    "val_accuracies.append(100.0 * correct / total)")]},
                        ORDER, {}),
    "tensor_and_numpy_history": ({"train": [("train_losses.append(loss_sum / total)",
                                             "train_losses.append(torch.tensor(loss_sum / total))"),
                                            ("val_accuracies.append(correct / total)",
                                             "val_accuracies.append(np.float32(correct / total))")],
                                  "imports": [("import torch\n", "import numpy as np\nimport torch\n")]},
                                 ORDER, {}),
    "normalised_in_transform": ({"data": [("transform = transforms.ToTensor()",
                                           "transform = transforms.Compose([transforms.ToTensor(), "
                                           "transforms.Normalize((0.2860,), (0.3530,))])")]},
                                ORDER, {}),
    "plots_before_training": ({
                               "imports": [("torch.manual_seed(0)", "torch.manual_seed(0)\n"
                                            "train_losses, val_losses, train_accuracies, val_accuracies = "
                                            "[], [], [], []")],
                               "train": [("train_losses, val_losses, train_accuracies, val_accuracies = "
                                          "[], [], [], []\n", "")]},
                              ("imports", "data", "model", "loss_plot", "accuracy_plot", "train"), {}),
    "lists_never_filled": ({"train": [("train_losses.append(", "history_loss = ("),
                                      ("train_accuracies.append(", "history_acc = ("),
                                      ("val_losses.append(", "history_val_loss = ("),
                                      ("val_accuracies.append(", "history_val_acc = ("),
                                      ("print(f\"Epoch {epoch + 1}: train loss {train_losses[-1]:.3f}, "
                                       "val acc {val_accuracies[-1]:.3f}\")",
                                       "print(f\"Epoch {epoch + 1}: val acc {history_val_acc:.3f}\")")]},
                           ORDER, {}),
    "dot_data_root": ({"data": [("root=DATA_DIR, train=True", "root=\"./data\", train=True"),
                                ("root=DATA_DIR, train=False", "root='./data', train=False")]}, ORDER, {}),
    "tqdm_progress": ({"imports": [("import torch\n",
                                    "import torch\nfrom tqdm.auto import tqdm\nfrom tqdm.notebook import trange\n")],
                       "train": [("for epoch in range(8):", "for epoch in trange(8, desc=\"epochs\"):"),
                                 ("for images, labels in train_loader:",
                                  "for images, labels in tqdm(train_loader, leave=False):")]},
                      ORDER, {}),
    "colab_cells": ({"loss_plot": [("plt.plot(train_losses", "%matplotlib inline\nplt.plot(train_losses")]},
                    ("mount", "install", *ORDER), {"mount": COLAB_MOUNT, "install": COLAB_INSTALL}),
    "colab_download": ({"data": [("root=DATA_DIR, train=True", "root='/content/fmnist', train=True")]}, ORDER, {}),
    "hard_coded_cuda": ({"train": [("device = torch.device(\"cuda\" if torch.cuda.is_available() else \"cpu\")",
                                    "device = \"cuda\"")]}, ORDER, {}),
}


def notebook(name: str) -> nbformat.NotebookNode:
    edits, order, extra = VARIANTS[name]
    cells = dict(BASE, **extra)
    for cell, replacements in edits.items():
        for old, new in replacements:
            assert old in cells[cell], f"{name}: edit does not apply to {cell}: {old!r}"
            cells[cell] = cells[cell].replace(old, new)
    nb = nbformat.v4.new_notebook()
    nb.cells = ([nbformat.v4.new_markdown_cell("# PA3 Part 2 (Colab)")]
                + [nbformat.v4.new_code_cell(cells[c]) for c in order])
    return nb


def submission(folder: Path, name: str) -> Path:
    """The reference's Part 1 files with the notebook ``name``."""
    build = corpus.build(folder)
    nbformat.write(notebook(name), str(build / "PA3.ipynb"))
    return build
