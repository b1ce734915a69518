"""Helpers for the project's own tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

FLAT_MODULES = ("activations", "layers", "loss", "optimizer", "util", "model")


def load_flat(folder: Path, names: tuple[str, ...] = FLAT_MODULES) -> SimpleNamespace:
    """Import the flat modules of ``folder`` (reference or template) without leaking them into sys.modules.

    The modules import each other by bare name, so each load runs with ``folder``
    first on sys.path and a clean slate for those names.
    """
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        loaded = {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(folder))
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return SimpleNamespace(**loaded)


def processes_with(marker: str) -> list[str]:
    """PIDs of live processes whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            pass
    return found
