"""The sandbox is a leaf: it is told what to protect and returns facts; the entry points turn facts into words.
Nothing in grader/sandbox/ imports the grader's other modules (the specs, the messages, the entry points), so no
import circle runs through it."""

from __future__ import annotations

import ast
from pathlib import Path

from grader import PROJECT_ROOT

SANDBOX = PROJECT_ROOT / "grader" / "sandbox"
# Plain utilities with no grader imports of their own: a tree remover and the thread-budget arithmetic.
ALLOWED = ("grader.sandbox", "grader.fstree", "grader.threads")


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} if node.module != "grader" else {f"grader.{a.name}" for a in node.names}
    return found


def test_the_sandbox_imports_nothing_of_the_grader_above_it():
    outside = {f"{path.relative_to(PROJECT_ROOT)}: {name}" for path in SANDBOX.rglob("*.py") for name in imports(path)
               if name.split(".")[0] in ("grader", "test_specs") and not name.startswith(ALLOWED)}
    assert outside == set()


def test_the_allowed_utilities_are_leaves_too():
    for module in ("fstree", "threads"):
        found = imports(PROJECT_ROOT / "grader" / f"{module}.py")
        assert not {name for name in found if name.split(".")[0] in ("grader", "test_specs")}


def test_the_sandbox_is_told_what_to_protect():
    from grader import REFERENCE_DIR, SPEC_DIR
    from grader.sandbox import confinement, secrets

    assert REFERENCE_DIR in secrets.secret_paths() and SPEC_DIR / "hidden" in secrets.secret_paths()
    assert SPEC_DIR in confinement.closed_trees() and REFERENCE_DIR.resolve() in confinement.closed_trees()
