"""A submission's code as one text for comparison: its modules, then its notebook's code cells, each under a header.

Everything here reads student files, so it is bounded: the submission is received through the grader's own intake
(safe unpacking, size and entry limits), each part is cut at MAX_PART characters and the whole at MAX_TEXT, and a
notebook that is not valid JSON or has odd cells contributes only what can be read as text.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import REFERENCE_DIR, TEMPLATE_DIR
from grader.submission import MAX_SOURCE, SubmissionError, take
from test_specs.contract import NOTEBOOK, SUBMITTED_MODULES

MAX_PART = 256 << 10     # characters of one module or of one notebook's code
MAX_TEXT = 1 << 20       # characters of one submission's code in all
MAX_NOTEBOOK = 50 << 20  # bytes of a notebook file read at all (outputs make them large)


@dataclass
class Code:
    """One submission's code: ``text`` with a comment header before each part, and what could not be read."""

    id: str
    text: str = ""
    parts: list[str] = field(default_factory=list)   # "activations.py", ..., "PA3.ipynb"
    notes: list[str] = field(default_factory=list)

    def own(self, starter: Code) -> list[tuple[str, str]]:
        """The student's own code: (where, text) for each run of lines that are not starter code.

        A line counts as starter code when the starter has the same line (spaces aside) anywhere, so given
        signatures, docstrings and cells go wherever the student moved them; blank lines join runs."""
        given = {line.strip() for line in starter.text.splitlines() if line.strip()}
        chunks: list[tuple[str, str]] = []
        where, start, run, first = "", 0, [], 0

        def close() -> None:
            if any(r.strip() for r in run):
                chunks.append((f"{where}, line {first - start}", "\n".join(run).strip("\n") + "\n"))
            run.clear()

        for number, line in enumerate(self.text.splitlines(), 1):
            header, cell = HEADER.match(line), CELL.match(line)
            if header or cell or (line.strip() and line.strip() in given):
                close()
                if header or cell:
                    where = header.group(1) if header else f"{NOTEBOOK} cell {cell.group(1)}"
                    start = number
                continue
            if not run:
                first = number
            run.append(line)
        close()
        return chunks


def notebook_code(raw: bytes) -> str:
    """The code cells of a notebook file, in order, each under a ``# --- cell N`` header; "" when unreadable."""
    try:
        nb = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return ""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return ""
    chunks, size = [], 0
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str) or not source.strip():
            continue
        chunk = f"# --- cell {number}\n{source.rstrip()}\n"
        size += len(chunk)
        if size > MAX_PART:
            break
        chunks.append(chunk)
    return "".join(chunks)


HEADER = re.compile(r"^# ===== (.+) =====$")
CELL = re.compile(r"^# --- cell (\d+)$")


def _part(name: str, text: str) -> str:
    return f"# ===== {name} =====\n{text[:MAX_PART].rstrip()}\n\n"


def read_folder(root: Path, ident: str) -> Code:
    """The code in a folder laid out as a submission (the modules and PA3.ipynb at its top)."""
    code = Code(ident)
    chunks = []
    for module in SUBMITTED_MODULES:
        path = root / f"{module}.py"
        if not path.is_file() or path.is_symlink():
            continue
        if path.stat().st_size > MAX_SOURCE:
            code.notes.append(f"{path.name} is over {MAX_SOURCE} bytes: not compared")
            continue
        chunks.append(_part(path.name, path.read_bytes().decode("utf-8", "replace")))
        code.parts.append(path.name)
    notebook = root / NOTEBOOK
    if notebook.is_file() and not notebook.is_symlink() and notebook.stat().st_size <= MAX_NOTEBOOK:
        cells = notebook_code(notebook.read_bytes())
        if cells:
            chunks.append(_part(NOTEBOOK, cells))
            code.parts.append(NOTEBOOK)
    code.text = "".join(chunks)[:MAX_TEXT]
    return code


def read_submission(source: Path, ident: str) -> Code:
    """A submission (folder or zip) received through the grader's intake, then read as ``read_folder`` does."""
    with tempfile.TemporaryDirectory(prefix="pa3-similarity-") as tmp:
        try:
            intake = take(source, Path(tmp) / "unpacked")
        except SubmissionError as exc:
            return Code(ident, notes=[str(exc)])
        code = read_folder(intake.root, ident)
    if not code.parts:
        code.notes.append("no module or notebook code found")
    return code


def expected_code(reference: Path = REFERENCE_DIR) -> Code:
    """The course's own solution (empty where reference/ is not shipped): the canonical answer, no evidence."""
    return read_folder(reference, "expected code") if reference.is_dir() else Code("expected code")


def starter_code(template: Path = TEMPLATE_DIR) -> Code:
    """The code every student was given (student_template/, the starter notebook's cells): never evidence."""
    return read_folder(template, "starter code")
