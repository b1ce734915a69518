"""Wall time of `pa3 grade reference --no-notebook`, sandboxed against --isolation none (goal <= 1.5x, < 2 s)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader import REFERENCE_DIR
from grader.sandbox import isolation

LEVELS = ["none", "process", "bwrap"]


def grade_reference(level: str) -> None:
    result = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(REFERENCE_DIR), "--no-notebook",
                             "--isolation", level], capture_output=True, text=True)
    assert result.returncode == 0 and "104 / 104" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("level", LEVELS)
def test_grade_reference_wall_time(benchmark, level):
    if isolation.unavailable_reason(level):
        pytest.skip(isolation.unavailable_reason(level))
    benchmark.group = "pa3 grade reference --no-notebook"
    benchmark.pedantic(grade_reference, args=(level,), rounds=5, iterations=1, warmup_rounds=1)
