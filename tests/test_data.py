"""pa3 data: synthetic and real FashionMNIST roots that torchvision reads offline."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import numpy as np
import pytest
from torchvision.datasets import FashionMNIST

from grader import fashion_data
from tests.conftest import SAMPLE_DIR


def test_synth_is_read_by_torchvision(tmp_path):
    result = subprocess.run([sys.executable, "-m", "grader.cli", "data", "synth", "--out", str(tmp_path),
                             "--train", "500", "--test", "200", "--seed", "7"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    train = FashionMNIST(str(tmp_path), train=True, download=False)
    test = FashionMNIST(str(tmp_path), train=False, download=False)
    assert train.data.shape == (500, 28, 28) and test.data.shape == (200, 28, 28)
    assert str(train.data.dtype) == "torch.uint8"
    assert np.bincount(train.targets.numpy(), minlength=10).tolist() == [50] * 10
    image, label = train[0]
    assert image.size == (28, 28) and 0 <= label < 10


def test_synth_is_reproducible_and_varied(tmp_path):
    fashion_data.synth(tmp_path / "a", 300, 100, seed=3)
    fashion_data.synth(tmp_path / "b", 300, 100, seed=3)
    fashion_data.synth(tmp_path / "c", 300, 100, seed=4)
    a, _ = fashion_data.load_split(tmp_path / "a", "train")
    b, _ = fashion_data.load_split(tmp_path / "b", "train")
    c, _ = fashion_data.load_split(tmp_path / "c", "train")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len({img.tobytes() for img in a}) == len(a)  # no two images alike
    assert 20 < a.mean() < 200


def test_synth_is_learnable_but_not_trivial(tmp_path):
    """A linear model on raw pixels learns it partly; it is not separable by one pixel threshold."""
    fashion_data.synth(tmp_path, 3000, 1000, seed=0)
    X, y = fashion_data.load_split(tmp_path, "train")
    Xt, yt = fashion_data.load_split(tmp_path, "test")
    X, Xt = X.reshape(len(X), -1) / 255.0, Xt.reshape(len(Xt), -1) / 255.0
    # Nearest class mean: a weak learner that should do well above chance but far from perfect.
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    predicted = np.argmin(((Xt[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    accuracy = (predicted == yt).mean()
    assert 0.3 < accuracy < 0.97


def test_prepare_real_sample_from_gz(tmp_path):
    raw = fashion_data.prepare(SAMPLE_DIR, tmp_path)
    assert sorted(p.name for p in raw.iterdir()) == sorted(fashion_data.IDX_FILES.values())
    assert len(FashionMNIST(str(tmp_path), train=True)) == 1813
    assert len(FashionMNIST(str(tmp_path), train=False)) == 1770


def test_prepare_from_raw_files_and_from_a_torchvision_root(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for gz in SAMPLE_DIR.glob("*.gz"):
        with gzip.open(gz) as src, open(flat / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    fashion_data.prepare(flat, tmp_path / "one")
    fashion_data.prepare(tmp_path / "one", tmp_path / "two")  # a torchvision root as the source
    assert len(FashionMNIST(str(tmp_path / "two"), train=False)) == 1770


def test_prepare_names_missing_files(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        fashion_data.prepare(tmp_path, tmp_path / "out")


def test_corrupt_idx_file_is_rejected(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in fashion_data.IDX_FILES.values():
        (bad / name).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(ValueError, match="header says"):
        fashion_data.prepare(bad, tmp_path / "out")
