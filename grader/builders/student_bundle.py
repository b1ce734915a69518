"""`pa3 build student`: the student bundle. The template, the starter notebook, the Iris data and the
public self-check (visible specs, their support and the harness that runs them) as one package,
``pa3_selfcheck``, so that nothing called ``grader`` or ``test_specs`` lands in a student's environment.
No oracle, no hidden test, no reference code: a test proves it."""

from __future__ import annotations

import ast
import re
import shutil
import zipfile
from pathlib import Path

from grader import PROJECT_ROOT, PROVIDED_DIR, PROVIDED_FILES, TEMPLATE_DIR, atomic
from test_specs.contract import TEMPLATE_FILES

# Left out of the bundle: the hidden specs and oracle, the contract formulas (working forward passes),
# and the staff-only builders, class summary, similarity report and demo.
EXCLUDED = ("test_specs/hidden", "test_specs/support/formulas.py", "grader/builders", "grader/batch",
            "grader/render/class_summary.py", "grader/similarity", "grader/demo.py")
PACKAGE = "pa3_selfcheck"  # the bundle's one top-level package: grader's modules, with test_specs as .specs
RENAMES = (("grader", PACKAGE), ("test_specs", f"{PACKAGE}.specs"))
SELFCHECK_PYPROJECT = f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "pa3-selfcheck"
version = "0.1.0"
description = "PA3 self-check: pa3 check and pa3 pack"
requires-python = ">=3.10"
dependencies = ["numpy", "pytest", "gradescope-utils", "rich", "jsonschema", "nbformat", "nbclient", "ipykernel"]

[project.scripts]
pa3 = "{PACKAGE}.cli:main"

[tool.setuptools.packages.find]
include = ["{PACKAGE}*"]

[tool.setuptools.package-data]
{PACKAGE} = ["schemas/*.json", "provided/*.py", "provided/data/*.csv", "specs/**/*.npz", "specs/**/*.json"]
"{PACKAGE}.sandbox.runtime" = ["colab/google/colab/*.py"]
'''
README = '''# PA3

Your work goes in `PA3/`: fill in every `raise NotImplementedError(...)` in activations.py,
layers.py, loss.py and model.py, then complete PA3.ipynb.

## Self-check and packing

    python -m pip install ./selfcheck     # once: installs the `pa3` command
    cd PA3
    pa3 check                             # the visible tests on your files (exit 0 when all pass)
    pa3 check --notebook                  # also runs PA3.ipynb with your own data/ folder
    pa3 check relu                        # only the members you name: relu, ReLU.backward, softmax, layer, loss,
                                          # model.predict, ... (`pa3 check nope` lists them all)
    pa3 pack                              # checks the file names and writes PA3.zip

In Colab or Jupyter, `!pa3 check` works in a cell, and so does Python:

    from pa3_selfcheck import check
    check("relu")                         # the same report; check() alone checks everything

The self-check runs your code in a separate, limited process, exactly as the grader does. It runs
the visible tests only: the grader also runs hidden tests, and grades your notebook and write-up.
'''


def _skip(rel: str) -> bool:
    return any(rel == e or rel.startswith(e + "/") for e in EXCLUDED) or "__pycache__" in rel


def _renamed(module: str) -> str | None:
    """``module`` under the bundle's package, or None when it is not ours."""
    for old, new in RENAMES:
        if module == old or module.startswith(old + "."):
            return new + module[len(old):]
    return None


_FROM = re.compile(r"^(\s*)from\s+((?:grader|test_specs)(?:\.[\w.]+)?)\s+import\b", re.M)
_IMPORT = re.compile(r"^(\s*)import\s+(grader|test_specs)\s*$", re.M)
_STRING = re.compile(r"""(["'])((?:grader|test_specs)\.[\w.]+)(["'])""")  # "grader.notebook.evaluate" for -m


def namespaced(source: str) -> str:
    """``source`` with its imports of grader and test_specs (and module names in strings) moved under PACKAGE."""
    source = _FROM.sub(lambda m: f"{m[1]}from {_renamed(m[2])} import", source)
    source = _IMPORT.sub(lambda m: f"{m[1]}import {_renamed(m[2])} as {m[2]}" if m[2] == "grader"
                         else f"{m[1]}from {PACKAGE} import specs as {m[2]}", source)
    return _STRING.sub(lambda m: f"{m[1]}{_renamed(m[2])}{m[3]}", source)


def top_level_imports(source: str) -> set[str]:
    """The top-level package of every import in ``source`` (parsed, not run)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def build(out: Path, make_zip: bool = False) -> Path:
    """Write the bundle into ``out`` (replacing it); return the folder, or the zip when ``make_zip``."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    work = out / "PA3"
    for rel in TEMPLATE_FILES:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE_DIR / rel, work / rel)
    package = out / "selfcheck" / PACKAGE
    for old, new in RENAMES:
        target_root = package.joinpath(*new.split(".")[1:])
        for path in sorted((PROJECT_ROOT / old).rglob("*")):
            rel = path.relative_to(PROJECT_ROOT).as_posix()
            if not path.is_file() or _skip(rel) or rel.startswith("grader/provided/"):
                continue
            target = target_root / path.relative_to(PROJECT_ROOT / old)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix != ".py":
                shutil.copyfile(path, target)
                continue
            text = namespaced(path.read_text())
            clash = top_level_imports(text) & {"grader", "test_specs"}
            if clash:  # an import the rewrite missed would collide with a student's own files
                raise RuntimeError(f"{rel} still imports {', '.join(sorted(clash))} after namespacing")
            target.write_text(text)
    for rel in PROVIDED_FILES:
        target = package / "provided" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROVIDED_DIR / rel, target)
    selfcheck = out / "selfcheck"
    (selfcheck / "pyproject.toml").write_text(SELFCHECK_PYPROJECT)
    (out / "README.md").write_text(README)
    if not make_zip:
        return out
    archive = out.with_suffix(".zip")
    with atomic.replacing(archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(out.parent).as_posix())
    return archive
