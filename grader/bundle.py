"""`pa3 build student`: the student bundle. The template, the starter notebook, the Iris data and the
public self-check (visible specs, their support and the harness that runs them). No oracle, no hidden
test, no reference code: a test proves it."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from grader import PROJECT_ROOT, PROVIDED_DIR, PROVIDED_FILES, TEMPLATE_DIR

# Left out of the bundle: the hidden specs and oracle, the contract formulas (working forward passes),
# and the staff-only builders.
EXCLUDED = ("test_specs/hidden", "test_specs/support/formulas.py", "grader/template.py", "grader/bundle.py",
            "grader/autograder.py", "grader/batch")
TEMPLATE_FILES = ("activations.py", "layers.py", "loss.py", "model.py", "util.py", "optimizer.py", "PA3.ipynb",
                  "data/iris.csv")
SELFCHECK_PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "pa3-selfcheck"
version = "0.1.0"
description = "PA3 self-check: pa3 check and pa3 pack"
requires-python = ">=3.10"
dependencies = ["numpy", "pytest", "gradescope-utils", "rich", "jsonschema", "nbformat", "nbclient", "ipykernel"]

[project.scripts]
pa3 = "grader.cli:main"

[tool.setuptools.packages.find]
include = ["grader*", "test_specs*"]

[tool.setuptools.package-data]
grader = ["schemas/*.json", "provided/*.py", "provided/data/*.csv"]
'''
README = '''# PA3

Your work goes in `PA3/`: fill in every `raise NotImplementedError(...)` in activations.py,
layers.py, loss.py and model.py, then complete PA3.ipynb.

## Self-check and packing

    python -m pip install ./selfcheck     # once: installs the `pa3` command
    cd PA3
    pa3 check                             # the visible tests on your files (exit 0 when all pass)
    pa3 check --notebook                  # also runs PA3.ipynb with your own data/ folder
    pa3 pack                              # checks the file names and writes PA3.zip

The self-check runs your code in a separate, limited process, exactly as the grader does. It runs
the visible tests only: the grader also runs hidden tests, and grades your notebook and write-up.
'''


def _skip(rel: str) -> bool:
    return any(rel == e or rel.startswith(e + "/") for e in EXCLUDED) or "__pycache__" in rel


def build(out: Path, make_zip: bool = False) -> Path:
    """Write the bundle into ``out`` (replacing it); return the folder, or the zip when ``make_zip``."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    work = out / "PA3"
    for rel in TEMPLATE_FILES:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE_DIR / rel, work / rel)
    selfcheck = out / "selfcheck"
    for package in ("grader", "test_specs"):
        for path in sorted((PROJECT_ROOT / package).rglob("*")):
            rel = path.relative_to(PROJECT_ROOT).as_posix()
            if path.is_file() and not _skip(rel) and not rel.startswith("grader/provided/"):
                (selfcheck / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, selfcheck / rel)
    for rel in PROVIDED_FILES:
        target = selfcheck / "grader" / "provided" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROVIDED_DIR / rel, target)
    (selfcheck / "pyproject.toml").write_text(SELFCHECK_PYPROJECT)
    (out / "README.md").write_text(README)
    if not make_zip:
        return out
    archive = out.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(out.parent).as_posix())
    return archive
