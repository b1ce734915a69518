"""Generate the student template from the reference by stripping solution regions.

Python files mark solutions with ``# BEGIN SOLUTION`` / ``# END SOLUTION`` lines;
each region becomes ``raise NotImplementedError(...)`` naming the member, with
the docstring above it kept. Notebook code cells use the same markers and become
TODO cells; markdown answers sit between ``<!-- BEGIN SOLUTION -->`` and
``<!-- END SOLUTION -->``. Outputs are cleared.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
from pathlib import Path

import nbformat

from test_specs.contract import TEMPLATE_FILES

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
MD_REGION = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.S)
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")

# Files of reference/ that make up the template (TEMPLATE_FILES, from the contract); optimizer.py is provided,
# not submitted.
# Digests of the reference files the template came from: an edit inside a solution region
# changes no template line, but still means everything generated from the reference is stale.
DIGEST_FILE = ".generated-from"


class TemplateError(ValueError):
    """A solution region is malformed (unterminated, nested or stray marker)."""


def _enclosing_members(source: str) -> dict[int, str]:
    """Map each line number inside a function to the function's qualified name (innermost wins)."""
    owners: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    for line in range(child.lineno, child.end_lineno + 1):
                        owners[line] = name
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return owners


def _strip_lines(source: str, stub: callable, where: str) -> str:
    """Replace each marked region of ``source`` with ``stub(indent, first_line_number)``."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i].rstrip("\r\n"))
        if begin is None:
            if END.match(lines[i].rstrip("\r\n")):
                raise TemplateError(f"{where}:{i + 1}: END SOLUTION without BEGIN")
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not END.match(lines[j].rstrip("\r\n")):
            if BEGIN.match(lines[j].rstrip("\r\n")):
                raise TemplateError(f"{where}:{j + 1}: nested BEGIN SOLUTION")
            j += 1
        if j == len(lines):
            raise TemplateError(f"{where}:{i + 1}: BEGIN SOLUTION is never closed")
        out.append(stub(begin.group("indent"), i + 1))
        i = j + 1
    return "".join(out)


def strip_python(source: str, where: str = "<source>") -> str:
    """Template version of a reference module: each solution region raises NotImplementedError."""
    owners = _enclosing_members(source)

    def stub(indent: str, line: int) -> str:
        member = owners.get(line, "this part")
        return f'{indent}raise NotImplementedError("{member} is not implemented yet")\n'

    result = _strip_lines(source, stub, where)
    ast.parse(result)  # the template must still compile
    return result


def strip_notebook(nb: nbformat.NotebookNode, where: str = "PA3.ipynb") -> nbformat.NotebookNode:
    """Template version of the reference notebook: solution code becomes TODO stubs, answers become prompts."""
    nb = nbformat.from_dict(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.source = _strip_lines(
                cell.source,
                lambda indent, _: (f"{indent}# TODO: your code here\n"
                                   f"{indent}raise NotImplementedError(\"complete this cell\")\n"),
                f"{where} cell {index}",
            ).rstrip("\n")
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = MD_REGION.sub("_Your answer here._", cell.source)
        if any(marker in cell.source for marker in SOLUTION_MARKERS):
            raise TemplateError(f"{where} cell {index}: a solution marker is left after stripping")
    return nb


def render(reference: Path) -> dict[str, bytes]:
    """Return {relative path: content} of the template generated from ``reference``."""
    files: dict[str, bytes] = {}
    for rel in TEMPLATE_FILES:
        src = reference / rel
        if rel.endswith(".py"):
            files[rel] = strip_python(src.read_text(), rel).encode()
        elif rel.endswith(".ipynb"):
            nb = strip_notebook(nbformat.read(src, as_version=4), rel)
            files[rel] = (nbformat.writes(nb) + "\n").encode()
        else:
            files[rel] = src.read_bytes()
    files[DIGEST_FILE] = "".join(
        f"{hashlib.sha256((reference / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in TEMPLATE_FILES
    ).encode()
    return files


def write(reference: Path, out: Path) -> list[str]:
    """Generate the template into ``out`` (replacing it); return the files written."""
    files = render(reference)
    if out.exists():
        shutil.rmtree(out)
    for rel, content in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return sorted(files)


def differences(reference: Path, committed: Path) -> list[str]:
    """Describe how ``committed`` differs from what ``reference`` generates (empty when in sync)."""
    expected = render(reference)
    problems = []
    for rel, content in sorted(expected.items()):
        path = committed / rel
        if not path.exists():
            problems.append(f"{rel}: missing from {committed}")
        elif path.read_bytes() != content and rel == DIGEST_FILE:
            changed = sorted(set(content.decode().splitlines()) - set(path.read_text().splitlines()))
            problems.extend(f"{line.split()[-1]}: the reference changed since the template was generated"
                            for line in changed)
        elif path.read_bytes() != content:
            problems.append(f"{rel}: differs from what {reference}/{rel} generates")
    ignored = {"__pycache__", ".ipynb_checkpoints"}
    for path in sorted(committed.rglob("*")):
        rel = path.relative_to(committed).as_posix()
        if path.is_file() and rel not in expected and not ignored & set(path.parts):
            problems.append(f"{rel}: not generated from the reference (stray file)")
    return problems
