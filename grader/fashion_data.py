"""FashionMNIST data roots for torchvision: synthesise, lay out real idx files, or download.

torchvision.datasets.FashionMNIST(root) reads the uncompressed idx files from
``<root>/FashionMNIST/raw/``; nothing here downloads unless asked by ``download``.
"""

from __future__ import annotations

import gzip
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IDX_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
N_CLASSES = 10
SIDE = 28


def raw_dir(root: Path) -> Path:
    """Where torchvision looks for the idx files under ``root``."""
    return Path(root) / "FashionMNIST" / "raw"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an idx file (magic 0x0000 08 ndim, then big-endian dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.tobytes())


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (raw or .gz) of unsigned bytes."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        zero, dtype, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype != 0x08:
            raise ValueError(f"{path}: not an idx file of unsigned bytes")
        shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} bytes")
    return data.reshape(shape)


def load_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels (n,) of ``split`` ("train" or "test") under a torchvision root."""
    raw = raw_dir(root)
    return read_idx(raw / IDX_FILES[(split, "images")]), read_idx(raw / IDX_FILES[(split, "labels")])


def _prototypes(rng: np.random.Generator, modes: int) -> np.ndarray:
    """Smooth class templates (N_CLASSES, modes, 28, 28) in [0, 1]: blobs and strokes over a shared base."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)

    def blobs(count: int) -> np.ndarray:
        image = np.zeros((SIDE, SIDE), np.float32)
        for _ in range(count):
            cy, cx = rng.uniform(6, 22, size=2)
            sy, sx = rng.uniform(1.5, 6.0, size=2)
            image += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 / (2 * sy**2) + (xx - cx) ** 2 / (2 * sx**2)))
        return image / image.max()

    base = blobs(6)  # shared by every class so that classes overlap
    protos = np.empty((N_CLASSES, modes, SIDE, SIDE), np.float32)
    for c in range(N_CLASSES):
        own = blobs(4)
        for k in range(modes):
            protos[c, k] = 0.25 * base + 0.75 * np.clip(own + 0.5 * blobs(2), 0, 1.5) / 1.5
    return protos


def synthesise(n: int, rng: np.random.Generator, protos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images with balanced labels: a random mode of the class, shifted, rescaled, blended, noisy."""
    labels = rng.permutation(np.arange(n) % N_CLASSES).astype(np.uint8)
    images = np.empty((n, SIDE, SIDE), np.uint8)
    pad = 1
    rows = np.arange(SIDE)
    for start in range(0, n, 5000):  # chunks keep memory flat for 60000 images
        lab = labels[start:start + 5000]
        m = len(lab)
        own = protos[lab, rng.integers(0, protos.shape[1], m)]
        other = protos[rng.integers(0, N_CLASSES, m), rng.integers(0, protos.shape[1], m)]
        mix = rng.uniform(0.0, 0.25, (m, 1, 1)).astype(np.float32)
        img = (1 - mix) * own + mix * other
        padded = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
        dy, dx = rng.integers(0, 2 * pad + 1, (2, m))
        img = padded[np.arange(m)[:, None, None], (dy[:, None] + rows)[:, :, None], (dx[:, None] + rows)[:, None, :]]
        img = img * rng.uniform(0.6, 1.2, (m, 1, 1)) + rng.normal(0, 0.15, img.shape)
        images[start:start + m] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return images, labels


def synth(out: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Write a synthetic FashionMNIST-format root at ``out``; return its raw folder."""
    rng = np.random.default_rng(seed)
    protos = _prototypes(rng, modes=3)
    raw = raw_dir(out)
    raw.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = synthesise(n, rng, protos)
        write_idx(raw / IDX_FILES[(split, "images")], images)
        write_idx(raw / IDX_FILES[(split, "labels")], labels)
    return raw


def find_idx_files(source: Path) -> dict[str, Path]:
    """Locate the four idx files (raw or .gz) in ``source`` or in a torchvision root below it."""
    candidates = [source, raw_dir(source), source / "raw"]
    found: dict[str, Path] = {}
    for name in IDX_FILES.values():
        for folder in candidates:
            for path in (folder / name, folder / f"{name}.gz"):
                if path.is_file():
                    found[name] = path
                    break
            if name in found:
                break
    missing = sorted(set(IDX_FILES.values()) - set(found))
    if missing:
        raise FileNotFoundError(f"{source}: no FashionMNIST idx files named {', '.join(missing)} (raw or .gz)")
    return found


def prepare(source: Path, out: Path) -> Path:
    """Lay out the idx files found in ``source`` (gz or raw) uncompressed under ``out`` for torchvision."""
    raw = raw_dir(out)
    raw.mkdir(parents=True, exist_ok=True)
    for name, path in find_idx_files(Path(source)).items():
        target = raw / name
        if path.resolve() == target.resolve():
            continue
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(path, target)
        read_idx(target)  # fail now, not at grading time, on a corrupt file
    return raw


@dataclass(frozen=True)
class HeldOut:
    """The part of the test split the notebook never sees: what Section 2's accuracy is measured on."""

    images: np.ndarray  # (n, 28, 28) uint8
    labels: np.ndarray  # (n,) uint8


def split_test(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices the notebook gets as ``train=False``, indices the grader keeps) of a test split of ``n`` images.

    Every other image, so both halves keep the split's class balance and the rule needs no seed: the real
    set's 10,000 test images give the grader 5,000 the notebook never had.
    """
    index = np.arange(n)
    return index[index % 2 == 0], index[index % 2 == 1]


def prepare_for_notebook(source: Path, out: Path) -> HeldOut:
    """Lay out ``source`` under ``out`` as ``prepare`` does, but with only the notebook's half of the test split;
    return the other half, which stays with the grader. ``out`` must be a new folder: the test files there are
    rewritten."""
    if raw_dir(out).exists() and any(raw_dir(out).iterdir()):
        raise ValueError(f"{out} already holds a data set; the notebook's copy is made in a new folder")
    raw = prepare(source, out)
    images, labels = load_split(out, "test")
    if len(labels) < 2 or len(images) != len(labels):
        raise ValueError(f"the test split has {len(images)} images and {len(labels)} labels; "
                         "at least 2 of each, as many labels as images, are needed")
    visible, kept = split_test(len(labels))
    for kind, array in (("images", images[visible]), ("labels", labels[visible])):
        target = raw / IDX_FILES[("test", kind)]
        write_idx(target, array)
    return HeldOut(np.ascontiguousarray(images[kept]), np.ascontiguousarray(labels[kept]))


def download(out: Path) -> Path:
    """Fetch the real FashionMNIST into ``out`` with torchvision (image builds only; needs a network)."""
    from torchvision.datasets import FashionMNIST

    for train in (True, False):
        FashionMNIST(root=str(out), train=train, download=True)
    return raw_dir(out)
