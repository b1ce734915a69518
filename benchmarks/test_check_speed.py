"""Wall time of the bundle's `pa3 check` on a finished PA3 folder (goal < 2 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from grader import REFERENCE_DIR
from grader.builders import student_bundle as bundle


@pytest.fixture(scope="module")
def solved_bundle(tmp_path_factory):
    out = bundle.build(tmp_path_factory.mktemp("bench") / "PA3-bundle")
    for module in ("activations", "layers", "loss", "model", "util"):
        shutil.copyfile(REFERENCE_DIR / f"{module}.py", out / "PA3" / f"{module}.py")
    return out


@pytest.mark.parametrize("state", ["solved", "template"])
def test_pa3_check_wall_time(benchmark, solved_bundle, tmp_path, state):
    folder = solved_bundle / "PA3"
    if state == "template":
        folder = tmp_path / "PA3"
        shutil.copytree(bundle.TEMPLATE_DIR, folder)
    env = dict(os.environ, PYTHONPATH=str(solved_bundle / "selfcheck"))

    def check():
        result = subprocess.run([sys.executable, "-m", "pa3_selfcheck.cli", "check"], cwd=folder, env=env,
                                capture_output=True, text=True)
        assert result.returncode == (0 if state == "solved" else 1), result.stdout[-2000:]

    benchmark.group = "pa3 check (bundle)"
    benchmark.pedantic(check, rounds=5, iterations=1, warmup_rounds=1)
