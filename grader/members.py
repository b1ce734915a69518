"""Graded members: which member a test belongs to, which members are still the template's stub, and
the names a student may give ``pa3 check`` (``relu``, ``ReLU.backward``, ``layer``, ``model.predict``...)."""

from __future__ import annotations

import ast
import difflib

from test_specs.contract import NOTEBOOK, STUDENT_MEMBERS

PART1 = tuple(member for members in STUDENT_MEMBERS.values() for member in members)
ALL = PART1 + (NOTEBOOK,)
OTHER = "other"  # tests that belong to no member (a collection error): always shown
METHODS = ("forward", "backward", "predict")

# Spellings of a class (or a whole module) -> classes; compared lower-case without "_", "-" or spaces.
CLASS_NAMES = {
    "relu": ("ReLU",), "softmax": ("SoftMax",),
    "layer": ("FullyConnectedLayer",), "layers": ("FullyConnectedLayer",), "fc": ("FullyConnectedLayer",),
    "fullyconnected": ("FullyConnectedLayer",), "fullyconnectedlayer": ("FullyConnectedLayer",),
    "loss": ("CrossEntropyLoss",), "crossentropy": ("CrossEntropyLoss",), "crossentropyloss": ("CrossEntropyLoss",),
    "model": ("NeuralNetworkModel",), "neuralnetworkmodel": ("NeuralNetworkModel",),
    "activation": ("ReLU", "SoftMax"), "activations": ("ReLU", "SoftMax"),
}
NOTEBOOK_NAMES = ("notebook", "pa3.ipynb", "ipynb")
SHOWN_NAMES = ("relu", "softmax", "layer", "loss", "model", "activations", "notebook")  # listed for an unknown name


class UnknownMember(ValueError):
    """A name given to ``pa3 check`` matches no graded member; the message lists the valid ones."""


def member_of(test_name: str) -> str:
    """The member a test grades: its name starts with ``Member: ...`` (``PA3.ipynb: ...`` for the notebook)."""
    head = test_name.split(":", 1)[0].strip()
    return head if head in ALL else OTHER


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in "_- ")


def valid_names() -> str:
    return (", ".join(SHOWN_NAMES) + "; or one method: " + ", ".join(PART1)
            + " (any capitalisation, e.g. relu.backward, model.predict)")


def resolve_one(name: str) -> tuple[str, ...]:
    """The members ``name`` stands for, in the contract's order; UnknownMember when none."""
    key = _key(name)
    if key in NOTEBOOK_NAMES:
        return (NOTEBOOK,)
    cls_key, _, method = key.partition(".")
    if method and method not in METHODS:
        cls_key, method = key, ""  # a dot that is not Class.method (e.g. "layers.py")
    cls_key = cls_key.removesuffix(".py")
    classes = CLASS_NAMES.get(cls_key) or tuple(c for c in {m.split(".")[0] for m in PART1} if c.lower() == cls_key)
    found = tuple(m for m in PART1 if m.split(".")[0] in classes and (not method or m.endswith("." + method)))
    if not found:
        close = difflib.get_close_matches(key, [*CLASS_NAMES, *(m.lower() for m in PART1)], n=1, cutoff=0.6)
        guess = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownMember(f"pa3 check: no graded member is called {name!r}{guess}. Valid names: {valid_names()}")
    return found


def select(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Members named by ``names`` (each resolved by ``resolve_one``), in the contract's order, without repeats."""
    chosen = {member for name in names for member in resolve_one(name)}
    return tuple(m for m in ALL if m in chosen)


def _is_stub(function: ast.FunctionDef) -> bool:
    """An unconditional ``raise NotImplementedError(...)`` in the body itself: the member cannot have been
    finished, whatever the template's provided lines before it do."""
    for statement in function.body:
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def stub_members(sources: dict[str, str]) -> list[str]:
    """Members whose body is still the template's stub. Parsed with ast only (nothing runs); a module that
    does not parse has no stubs here (its tests say why it fails)."""
    stubs = []
    for module, members in STUDENT_MEMBERS.items():
        try:
            tree = ast.parse(sources[module])
        except (KeyError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        for member in members:
            cls, method = member.split(".")
            functions = [n for n in getattr(classes.get(cls), "body", []) if isinstance(n, ast.FunctionDef)
                         and n.name == method]
            if functions and _is_stub(functions[-1]):
                stubs.append(member)
    return stubs
