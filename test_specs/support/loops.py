"""The no-loop rule, checked on the student's source with ``ast`` (nothing is run).

A member breaks the rule when it (or a helper of the same module it calls)
loops over the rows of a mini-batch: ``for row in Z``, ``zip(Z, dY)``,
``range(len(X))``, ``range(m)`` with ``m = X.shape[0]``, a ``while`` loop
bounded by the batch size, a comprehension of any of these, or NumPy's
per-element helpers (``np.vectorize``, ``np.apply_along_axis``, ``np.frompyfunc``).
Loops over other axes (classes, features) are allowed by the contract.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

PER_ROW_HELPERS = {"vectorize", "apply_along_axis", "frompyfunc"}


@dataclass(frozen=True)
class LoopFinding:
    function: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"line {self.line} in {self.function}: {self.code}"


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _mentions_cache(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "cache" for n in ast.walk(node))


def _is_row_count(node: ast.AST, arrays: set[str]) -> bool:
    """``len(A)``, ``A.shape[0]`` or ``np.size(A, 0)`` for a batch array ``A``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
        return bool(node.args) and bool(_names(node.args[0]) & arrays or _mentions_cache(node.args[0]))
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
        index = node.slice
        first = isinstance(index, ast.Constant) and index.value == 0
        return first and bool(_names(node.value.value) & arrays or _mentions_cache(node.value.value))
    return False


class _FunctionScan:
    """Find batch loops in one function, given which of its parameters hold batch arrays."""

    def __init__(self, func: ast.FunctionDef, qualname: str, source_lines: list[str]):
        self.func = func
        self.qualname = qualname
        self.lines = source_lines
        params = [a.arg for a in func.args.args + func.args.kwonlyargs if a.arg not in ("self", "cls")]
        self.arrays: set[str] = set(params)
        self.counts: set[str] = set()
        self._collect_aliases()

    def _collect_aliases(self) -> None:
        # Two passes so that names derived from derived names are found too.
        for _ in range(2):
            for node in ast.walk(self.func):
                if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                for target in targets:
                    if isinstance(target, ast.Name):
                        if _is_row_count(value, self.arrays) or _names(value) & self.counts:
                            self.counts.add(target.id)
                        elif _names(value) & self.arrays or _mentions_cache(value):
                            self.arrays.add(target.id)
                    elif isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[0], ast.Name):
                        # m, n = X.shape  -> m counts rows
                        if isinstance(value, ast.Attribute) and value.attr == "shape" and (
                                _names(value.value) & self.arrays or _mentions_cache(value.value)):
                            self.counts.add(target.elts[0].id)

    def _batch_iterable(self, it: ast.AST) -> bool:
        if isinstance(it, ast.Name) and it.id in self.arrays:
            return True
        if isinstance(it, (ast.Subscript, ast.Attribute)) and (_names(it) & self.arrays or _mentions_cache(it)):
            return not (isinstance(it, ast.Attribute) and it.attr in ("shape", "ndim", "size"))
        if isinstance(it, ast.Call):
            func = it.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "range":
                return any(_is_row_count(n, self.arrays) or (_names(n) & self.counts)
                           for arg in it.args for n in ast.walk(arg))
            if name in ("zip", "enumerate", "reversed", "iter", "list", "tuple", "map", "nditer", "ndenumerate", "ndindex"):
                return any(self._batch_iterable(arg) or _is_row_count(arg, self.arrays) or _names(arg) & self.counts
                           for arg in it.args)
        return False

    def _finding(self, node: ast.AST) -> LoopFinding:
        code = self.lines[node.lineno - 1].strip() if 0 < node.lineno <= len(self.lines) else ""
        return LoopFinding(self.qualname, node.lineno, code)

    def findings(self) -> list[LoopFinding]:
        found = []
        for node in ast.walk(self.func):
            if isinstance(node, (ast.For, ast.AsyncFor)) and self._batch_iterable(node.iter):
                found.append(self._finding(node))
            elif isinstance(node, ast.comprehension) and self._batch_iterable(node.iter):
                found.append(self._finding(node.iter))
            elif isinstance(node, ast.While) and (_names(node.test) & (self.counts | self.arrays)
                                                  or any(_is_row_count(n, self.arrays) for n in ast.walk(node.test))):
                found.append(self._finding(node))
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if name in PER_ROW_HELPERS:
                    found.append(self._finding(node))
        return found


def _index(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """All functions of a module by qualified name: ``f`` and ``Class.method``."""
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions[f"{node.name}.{item.name}"] = item
    return functions


def batch_loops(source: str, qualname: str) -> list[LoopFinding]:
    """Loops over the batch in ``qualname`` and the same-module helpers it calls.

    Raises KeyError when the module has no such member, SyntaxError when it does not parse.
    """
    tree = ast.parse(source)
    functions = _index(tree)
    if qualname not in functions:
        raise KeyError(qualname)
    lines = source.splitlines()
    cls = qualname.split(".")[0] if "." in qualname else None
    seen, todo, found = set(), [qualname], []
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        func = functions[name]
        found.extend(_FunctionScan(func, name, lines).findings())
        for node in ast.walk(func):
            if isinstance(node, ast.Call):
                target = node.func
                if isinstance(target, ast.Name):
                    todo.append(target.id)
                elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                      and target.value.id == "self" and cls):
                    todo.append(f"{cls}.{target.attr}")
    return sorted(set(found), key=lambda f: (f.function != qualname, f.line))
