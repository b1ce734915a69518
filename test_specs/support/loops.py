"""The no-loop rule, checked on the student's source with ``ast`` (nothing is run).

A member breaks the rule when it (or a helper of the same module it calls)
loops over the rows of a mini-batch: ``for row in Z``, ``zip(Z, dY)``,
``range(len(X))``, ``range(m)`` with ``m = X.shape[0]``, a ``while`` loop
bounded by the batch size, a comprehension of any of these, or NumPy's
per-element helpers applied to the batch: a function made by ``np.vectorize`` or ``np.frompyfunc`` called
on a batch array, ``np.apply_along_axis`` over any axis but 0 (one call per row), ``map`` over a batch array,
``np.fromiter`` of its rows. Only code that runs counts: a helper made but never applied to the batch (an
unused ``f = np.vectorize(relu)``), or a function defined inside the member and never called, is no loop.
Loops over other axes (classes, features) are allowed by the contract.

The source is hostile input to the trusted grader, so the check is bounded: the source
is parsed once (size cap, parser errors caught), every walk is iterative, and each
question "does this subtree mention a batch array?" is answered from a pre-order index
in O(log n), so the whole check costs O(n log n) in the size of the source; a time
budget stops it anyway, with a message naming the file.
"""

from __future__ import annotations

import ast
import bisect
import time
from collections import OrderedDict
from dataclasses import dataclass

MAKES_PER_ELEMENT = {"vectorize", "frompyfunc"}  # return a function that calls Python once per element
ZIP_LIKE = {"zip", "enumerate", "reversed", "iter", "list", "tuple", "map", "nditer", "ndenumerate", "ndindex"}
MAX_SOURCE = 1 << 20      # characters: the intake refuses larger graded files anyway
BUDGET = 5.0              # seconds for one member's check (the reference's takes milliseconds)
_CHECK_EVERY = 4096       # nodes between looks at the clock


class TooComplex(Exception):
    """The source cannot be checked within the bounds; the message says why (the caller names the file)."""


@dataclass(frozen=True)
class LoopFinding:
    function: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"line {self.line} in {self.function}: {self.code}"


# ---- parsing, once per source -----------------------------------------------------------------

_parsed: OrderedDict[str, "_Module | TooComplex | SyntaxError"] = OrderedDict()


def parse(source: str) -> ast.Module:
    """``ast.parse`` within bounds, cached: raises SyntaxError, or TooComplex for what the parser cannot take."""
    return _module(source).tree


def _module(source: str) -> "_Module":
    if source not in _parsed:
        try:
            if len(source) > MAX_SOURCE:
                raise TooComplex(f"the file is larger than {MAX_SOURCE} characters")
            try:
                value: object = _Module(ast.parse(source), source)
            except (RecursionError, MemoryError) as exc:
                raise TooComplex(f"it is nested too deeply for the parser ({type(exc).__name__})") from None
            except (ValueError, OverflowError) as exc:
                raise TooComplex(f"it cannot be parsed ({type(exc).__name__}: {str(exc)[:200]})") from None
        except (TooComplex, SyntaxError) as exc:
            value = exc
        _parsed[source] = value
        while len(_parsed) > 8:  # an AST costs far more memory than its source
            _parsed.popitem(last=False)
    value = _parsed[source]
    if isinstance(value, Exception):
        raise value
    return value


class _Module:
    def __init__(self, tree: ast.Module, source: str) -> None:
        self.tree = tree
        self.lines = source.splitlines()
        self.functions: dict[str, ast.FunctionDef] = {}  # ``f`` and ``Class.method``
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.functions[f"{node.name}.{item.name}"] = item
        self.scans: dict[str, tuple[list[LoopFinding], list[str]]] = {}  # qualname -> (findings, callees)
        self.per_element = _per_element_names(tree)


def _makes_per_element(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _called_name(node) in MAKES_PER_ELEMENT


def _per_element_names(tree: ast.Module) -> set[str]:
    """Names (``f`` or ``self.f``) bound anywhere in the module to a function made by np.vectorize/frompyfunc."""
    names = set()
    for node in ast.walk(tree):  # iterative; the tree is already within the parser's bounds
        if isinstance(node, ast.Assign) and _makes_per_element(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                    names.add(f"{target.value.id}.{target.attr}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any((_called_name(d) if isinstance(d, ast.Call) else getattr(d, "attr", getattr(d, "id", "")))
                   in MAKES_PER_ELEMENT for d in node.decorator_list):
                names.update((node.name, f"self.{node.name}"))
    return names


# ---- one function's index -------------------------------------------------------------------

class _Clock:
    def __init__(self, budget: float) -> None:
        self.deadline = time.monotonic() + budget
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TooComplex(f"checking it for loops took more than {BUDGET:g} s")


class _NameSet:
    """A growing set of names, with "does positions [start, end) hold one of them?" in O(log n) (a Fenwick tree)."""

    def __init__(self, size: int, positions: dict[str, list[int]]) -> None:
        self.tree = [0] * (size + 1)
        self.positions = positions
        self.names: set[str] = set()

    def add(self, name: str) -> None:
        if name in self.names:
            return
        self.names.add(name)
        for pos in self.positions.get(name, ()):
            i = pos + 1
            while i < len(self.tree):
                self.tree[i] += 1
                i += i & -i

    def _prefix(self, end: int) -> int:
        total = 0
        while end > 0:
            total += self.tree[end]
            end -= end & -end
        return total

    def within(self, span: tuple[int, int]) -> bool:
        return self._prefix(span[1]) - self._prefix(span[0]) > 0


def _prefix_counts(flags: list[bool]) -> list[int]:
    counts = [0]
    for flag in flags:
        counts.append(counts[-1] + flag)
    return counts


class _FunctionScan:
    """Find batch loops in one function, given which of its parameters hold batch arrays."""

    def __init__(self, func: ast.FunctionDef, qualname: str, source_lines: list[str], clock: _Clock,
                 per_element: set[str] = frozenset()):
        self.func, self.qualname, self.lines, self.clock = func, qualname, source_lines, clock
        self.per_element = per_element
        self.span: dict[int, tuple[int, int]] = {}
        self.depth: dict[int, int] = {}
        order = self.order = self._pre_order()
        positions: dict[str, list[int]] = {}
        for i, node in enumerate(order):
            if isinstance(node, ast.Name):
                positions.setdefault(node.id, []).append(i)
        self.cache_counts = _prefix_counts([isinstance(n, ast.Attribute) and n.attr == "cache" for n in order])
        self.arrays = _NameSet(len(order), positions)
        self.counts = _NameSet(len(order), positions)
        for a in func.args.args + func.args.kwonlyargs:
            if a.arg not in ("self", "cls"):
                self.arrays.add(a.arg)
        self._collect_aliases()
        self.row_counts = _prefix_counts([self._is_row_count(n) for n in order])
        self._iterable: dict[int, bool] = {}

    def _pre_order(self) -> list[ast.AST]:
        """Nodes in pre-order, recording each subtree's [start, end) span and depth, without recursion."""
        order: list[ast.AST] = []
        span, depth, tick = self.span, self.depth, self.clock.tick
        stack: list[tuple[ast.AST, int, int]] = [(self.func, -1, 0)]  # (node, start or -1 before entering, depth)
        AST = ast.AST
        while stack:
            node, start, level = stack.pop()
            if start >= 0:
                span[id(node)] = (start, len(order))
                continue
            tick()
            stack.append((node, len(order), level))
            depth[id(node)] = level
            order.append(node)
            children = []
            for name in node._fields:  # ast.iter_child_nodes, inlined: this loop is the whole cost
                value = getattr(node, name, None)
                if isinstance(value, AST):
                    children.append(value)
                elif isinstance(value, list):
                    children.extend(item for item in value if isinstance(item, AST))
            stack.extend((child, -1, level + 1) for child in reversed(children))
        return order

    def breadth_first(self, nodes: list[ast.AST]) -> list[ast.AST]:
        """``nodes`` in ast.walk's order (by depth, then pre-order), which the alias passes follow."""
        position = {id(n): i for i, n in enumerate(nodes)}
        return sorted(nodes, key=lambda n: (self.depth[id(n)], position[id(n)]))

    # -- subtree questions, O(log n) each --

    def mentions(self, node: ast.AST, names: _NameSet) -> bool:
        return names.within(self.span[id(node)])

    def mentions_cache(self, node: ast.AST) -> bool:
        start, end = self.span[id(node)]
        return self.cache_counts[end] > self.cache_counts[start]

    def holds_row_count(self, node: ast.AST) -> bool:
        start, end = self.span[id(node)]
        return self.row_counts[end] > self.row_counts[start]

    def _batchy(self, node: ast.AST) -> bool:
        return self.mentions(node, self.arrays) or self.mentions_cache(node)

    def _is_row_count(self, node: ast.AST) -> bool:
        """``len(A)``, ``A.shape[0]`` or ``np.size(A, 0)`` for a batch array ``A``."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
            return bool(node.args) and self._batchy(node.args[0])
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
            index = node.slice
            first = isinstance(index, ast.Constant) and index.value == 0
            return first and self._batchy(node.value.value)
        return False

    def _collect_aliases(self) -> None:
        # Two passes so that names derived from derived names are found too.
        assigns = self.breadth_first([n for n in self.order
                                      if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None])
        for _ in range(2):
            for node in assigns:
                self.clock.tick()
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                for target in targets:
                    if isinstance(target, ast.Name):
                        if self._is_row_count(value) or self.mentions(value, self.counts):
                            self.counts.add(target.id)
                        elif self._batchy(value):
                            self.arrays.add(target.id)
                    elif isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[0], ast.Name):
                        # m, n = X.shape  -> m counts rows
                        if isinstance(value, ast.Attribute) and value.attr == "shape" and self._batchy(value.value):
                            self.counts.add(target.elts[0].id)

    def _zip_args(self, node: ast.AST) -> list[ast.AST]:
        if isinstance(node, ast.Call) and _called_name(node) in ZIP_LIKE:
            return list(node.args)
        return []

    def batch_iterable(self, it: ast.AST) -> bool:
        """Bottom-up over nested ``zip(enumerate(...))`` calls, each node once, without recursion."""
        memo = self._iterable
        stack = [it]
        while stack:
            node = stack[-1]
            if id(node) in memo:
                stack.pop()
                continue
            waiting = [arg for arg in self._zip_args(node) if id(arg) not in memo]
            if waiting:
                stack.extend(waiting)
                continue
            self.clock.tick()
            memo[id(node)] = self._iterable_here(node)
            stack.pop()
        return memo[id(it)]

    def _iterable_here(self, it: ast.AST) -> bool:
        if isinstance(it, ast.Name) and it.id in self.arrays.names:
            return True
        if isinstance(it, (ast.Subscript, ast.Attribute)) and self._batchy(it):
            return not (isinstance(it, ast.Attribute) and it.attr in ("shape", "ndim", "size", "T"))  # .T: columns
        if isinstance(it, ast.Call):
            name = _called_name(it)
            if name == "range":
                return any(self.holds_row_count(arg) or self.mentions(arg, self.counts) for arg in it.args)
            if name in ZIP_LIKE:
                return any(self._iterable[id(arg)] or self._is_row_count(arg) or self.mentions(arg, self.counts)
                           for arg in it.args)
        return False

    def callees(self) -> list[str]:
        """Names this function calls: ``f`` for ``f(...)``, a marked ``self.m`` for ``self.m(...)``."""
        names = []
        for node in self.order:
            if isinstance(node, ast.Call):
                target = node.func
                if isinstance(target, ast.Name):
                    names.append(target.id)
                elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                      and target.value.id == "self"):
                    names.append(f"\0self.{target.attr}")
        return names

    def _finding(self, node: ast.AST) -> LoopFinding:
        code = self.lines[node.lineno - 1].strip() if 0 < node.lineno <= len(self.lines) else ""
        return LoopFinding(self.qualname, node.lineno, code[:200])

    def _per_element_call(self, call: ast.Call) -> bool:
        """A call that runs Python once per row (or element) of a batch array."""
        name, func = _called_name(call), call.func
        args = list(call.args) + [k.value for k in call.keywords]
        batchy = any(self._batchy(a) for a in args)
        if _makes_per_element(func) or (isinstance(func, ast.Name) and func.id in self.per_element) or (
                isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and f"{func.value.id}.{func.attr}" in self.per_element):
            return batchy
        if name == "apply_along_axis":
            keywords = {k.arg: k.value for k in call.keywords}
            axis = call.args[1] if len(call.args) > 1 else keywords.get("axis")
            array = call.args[2] if len(call.args) > 2 else keywords.get("arr")
            over_columns = isinstance(axis, ast.Constant) and axis.value == 0
            return array is not None and self._batchy(array) and not over_columns
        if name == "map":
            return any(self.batch_iterable(a) for a in call.args[1:])
        if name == "fromiter":
            return bool(call.args) and self.batch_iterable(call.args[0])
        return False

    def _uncalled_inner_spans(self) -> list[tuple[int, int]]:
        """Functions defined inside this one and never called by name here: their code does not run."""
        called = {c for c in self.callees() if not c.startswith("\0")}
        spans = sorted(self.span[id(n)] for n in self.order[1:]
                       if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name not in called)
        outermost: list[tuple[int, int]] = []
        for start, end in spans:  # nested spans fold into the one around them: disjoint, sorted
            if not outermost or start >= outermost[-1][1]:
                outermost.append((start, end))
        return outermost

    def findings(self) -> list[LoopFinding]:
        found = []
        dead = self._uncalled_inner_spans()
        starts = [start for start, _ in dead]
        for node in self.order:  # the order does not matter: batch_loops sorts what it returns
            self.clock.tick()
            at = self.span[id(node)][0]
            i = bisect.bisect_right(starts, at) - 1
            if i >= 0 and at < dead[i][1]:
                continue
            if isinstance(node, (ast.For, ast.AsyncFor)) and self.batch_iterable(node.iter):
                found.append(self._finding(node))
            elif isinstance(node, ast.comprehension) and self.batch_iterable(node.iter):
                found.append(self._finding(node.iter))
            elif isinstance(node, ast.While) and (self.mentions(node.test, self.counts)
                                                  or self.mentions(node.test, self.arrays)
                                                  or self.holds_row_count(node.test)):
                found.append(self._finding(node))
            elif isinstance(node, ast.Call) and self._per_element_call(node):
                found.append(self._finding(node))
        return found


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def batch_loops(source: str, qualname: str, budget: float = BUDGET) -> list[LoopFinding]:
    """Loops over the batch in ``qualname`` and the same-module helpers it calls.

    Raises KeyError when the module has no such member, SyntaxError when it does not parse,
    TooComplex when it cannot be checked within the bounds (the message says why).
    """
    module = _module(source)
    if qualname not in module.functions:
        raise KeyError(qualname)
    clock = _Clock(budget)
    cls = qualname.split(".")[0] if "." in qualname else None
    seen, todo, found = set(), [qualname], []
    while todo:
        name = todo.pop()
        if name in seen or name not in module.functions:
            continue
        seen.add(name)
        if name not in module.scans:
            scan = _FunctionScan(module.functions[name], name, module.lines, clock, module.per_element)
            module.scans[name] = (scan.findings(), scan.callees())
        findings, callees = module.scans[name]
        found.extend(findings)
        todo.extend(f"{cls}.{c[6:]}" if c.startswith("\0self.") else c for c in callees
                    if not c.startswith("\0self.") or cls)
    return sorted(set(found), key=lambda f: (f.function != qualname, f.line))
