"""Fixtures shared by the project's tests: reference and template modules, FashionMNIST roots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
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


# ---- a busy machine ---------------------------------------------------------------------------

def pytest_addoption(parser):
    parser.addoption("--busy", type=int, default=int(os.environ.get("PA3_TEST_BUSY", "0")), metavar="N",
                     help="run N CPU-bound processes beside the tests, as on a loaded CI machine "
                          "(also PA3_TEST_BUSY=N); the session fails if they did not run throughout")


def _detached_busy_loop() -> psutil.Process:
    """A CPU-bound loop that is not a child of this process: the grader, when it is a subreaper, kills
    every child of the process it runs in while sweeping a worker's orphans."""
    start = ("import subprocess, sys; "
             "print(subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True, "
             "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)")
    done = subprocess.run([sys.executable, "-c", start], capture_output=True, text=True, check=True)
    return psutil.Process(int(done.stdout))


@pytest.fixture(scope="session", autouse=True)
def busy_machine(request):
    """With --busy N, N busy loops compete with the tests for the CPUs from the first test to the last."""
    count = request.config.getoption("--busy")
    if count <= 0:
        yield []
        return
    loops = [_detached_busy_loop() for _ in range(count)]
    start = time.monotonic()
    try:
        yield loops
    finally:
        alive = [loop.is_running() and loop.status() != psutil.STATUS_ZOMBIE for loop in loops]
        cpu = sum(loop.cpu_times().user for loop, up in zip(loops, alive) if up)
        for loop, up in zip(loops, alive):
            if up:
                loop.kill()
                loop.wait(timeout=30)
        request.config.stash[BUSY_REPORT] = (count, time.monotonic() - start, cpu)
        assert all(alive), "a busy loop stopped early: the tests did not run on a loaded machine"


BUSY_REPORT = pytest.StashKey[tuple]()


def pytest_terminal_summary(terminalreporter, config):
    if BUSY_REPORT in config.stash:
        count, wall, cpu = config.stash[BUSY_REPORT]
        terminalreporter.write_line(f"busy machine: {count} CPU-bound processes ran beside the tests for "
                                    f"{wall:.0f} s and used {cpu:.0f} s of CPU")
