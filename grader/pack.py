"""`pa3 pack`: check names, suggest fixes for near misses, and write PA3.zip with exactly the required files."""

from __future__ import annotations

import ast
import difflib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import atomic
from grader.submission import check_source, near_miss
from test_specs.contract import REQUIRED_FILES

# Classes each module must define, as the starter code names them.
REQUIRED_CLASSES = {"activations.py": ("Activation", "Linear", "ReLU", "SoftMax"),
                    "layers.py": ("FullyConnectedLayer",), "loss.py": ("CrossEntropyLoss",),
                    "model.py": ("NeuralNetworkModel",), "util.py": ("Dataset", "Logger")}


@dataclass
class PackReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    packed: list[str] = field(default_factory=list)
    archive: Path | None = None


def class_problems(path: Path, expected: tuple[str, ...]) -> list[str]:
    defined = [n.name for n in ast.parse(path.read_text(encoding="utf-8-sig")).body if isinstance(n, ast.ClassDef)]
    problems = []
    for name in expected:
        if name in defined:
            continue
        guess = (difflib.get_close_matches(name, defined, n=1, cutoff=0.6)
                 or [d for d in defined if d.lower() == name.lower()])
        problems.append(f"{path.name}: class {name} is missing" + (f"; rename {guess[0]} to {name}" if guess else ""))
    return problems


def notebook_has_outputs(path: Path) -> bool:
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False
    return any(cell.get("outputs") for cell in cells if isinstance(cell, dict) and cell.get("cell_type") == "code")


def pack(folder: Path, out: Path | None = None) -> PackReport:
    folder = Path(folder)
    report = PackReport()
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    for name in REQUIRED_FILES:
        path = folder / name
        if not path.is_file():
            guess = near_miss(name, [p for p in present if p not in REQUIRED_FILES])
            message = f"{name} is missing" + (f"; found {guess}: rename it to {name}" if guess else "")
            (report.warnings if name == "PA3_qa.pdf" else report.errors).append(
                message + (" (your written answers; the zip is made without it)" if name == "PA3_qa.pdf" else ""))
            continue
        if name.endswith(".py"):
            problem = check_source(path)
            if problem:
                report.errors.append(problem)
                continue
            report.errors += class_problems(path, REQUIRED_CLASSES.get(name, ()))
        if name == "PA3.ipynb" and not notebook_has_outputs(path):
            report.warnings.append("PA3.ipynb has no outputs: run all cells and save before packing "
                                   "(the plots are graded from the saved outputs too)")
        report.packed.append(name)
    if report.errors:
        return report
    report.archive = Path(out) if out else folder / "PA3.zip"
    with atomic.replacing(report.archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in report.packed:
            zf.write(folder / name, name)
    return report
