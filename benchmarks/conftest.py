"""Benchmarks (pytest-benchmark): run with `.venv/bin/python -m pytest benchmarks/`; not part of the test suite."""

# The FashionMNIST sample, found and laid out as the test suite does (PA3_FMNIST_SAMPLE or ../shared).
from tests.conftest import SAMPLE_DIR, sample_root  # noqa: E402, F401
