"""One ruff configuration (pyproject.toml's [tool.ruff]: line length, import order, pyflakes, bugbear) holds
for the whole tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_whole_tree_passes_ruff():
    # ruff is a dev extra (setup.sh installs it): missing, this fails rather than skips.
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_ruff_reads_the_project_configuration():
    """The check above is only as strict as the configuration it finds: line length 120 and sorted imports."""
    shown = subprocess.run([sys.executable, "-m", "ruff", "check", "--show-settings", "pyproject.toml"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    assert "linter.line_length = 120" in shown
    assert "unsorted-imports (I001)" in shown
