"""Fixtures shared by the project's tests: reference and template modules, FashionMNIST roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import PROJECT_ROOT, REFERENCE_DIR, TEMPLATE_DIR, fashion_data
from tests.helpers import load_flat

# The real FashionMNIST sample lives outside the repo; PA3_FMNIST_SAMPLE points elsewhere if needed.
SAMPLE_DIR = Path(os.environ.get("PA3_FMNIST_SAMPLE", PROJECT_ROOT.parent / "shared" / "data" / "fashion-mnist-sample"))


@pytest.fixture(scope="session")
def ref():
    return load_flat(REFERENCE_DIR)


@pytest.fixture(scope="session")
def tmpl():
    return load_flat(TEMPLATE_DIR)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """A torchvision root holding the real 1813/1770-image FashionMNIST sample."""
    if not SAMPLE_DIR.is_dir():
        pytest.fail(f"the FashionMNIST sample is not at {SAMPLE_DIR}; set PA3_FMNIST_SAMPLE to its folder")
    root = tmp_path_factory.mktemp("fmnist-sample")
    fashion_data.prepare(SAMPLE_DIR, root)
    return root


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A synthetic FashionMNIST-format root, 6000 training and 2000 test images."""
    root = tmp_path_factory.mktemp("fmnist-synth")
    fashion_data.synth(root, 6000, 2000, seed=0)
    return root
