"""A submission's code for comparison: its modules, then its notebook's code cells, each a part of its own.

Everything here reads student files, so it is bounded: the submission is received through the grader's own intake
(safe unpacking, size and entry limits), a module over the intake's source limit is left out (and said so), the
notebook's code is cut at MAX_PART characters and the whole at MAX_TEXT, and a notebook that is not valid JSON
or has odd cells contributes only the code cells that can be read as text.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import REFERENCE_DIR, TEMPLATE_DIR
from grader.submission import MAX_SOURCE, SubmissionError, take
from test_specs.contract import NOTEBOOK, SUBMITTED_MODULES

# A PA3 submission has some 30,000 characters of code in a few dozen cells and functions; these bounds are
# several times that, and keep a hostile one to seconds (copydetect tokenises in Python: ~60 us a character,
# ~1 ms a chunk).
MAX_PART = 100_000       # characters of one module, or of one notebook's code cells together
MAX_TEXT = 200_000       # characters of one submission's code in all
MAX_CELLS = 400          # code cells of one notebook
MAX_CHUNKS = 1000        # runs of a student's own lines compared
MAX_NOTEBOOK = 50 << 20  # bytes of a notebook file read at all (outputs make them large)


@dataclass
class Code:
    """One submission's code: (where, text) parts ("layers.py", "PA3.ipynb cell 9"), and what could not be read."""

    id: str
    parts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(text) for _, text in self.parts)

    def own(self, starter: Code) -> list[tuple[str, str]]:
        """The student's own code: (where, text) for each run of lines that are not starter code.

        A line counts as starter code when the starter has the same line (spaces aside) anywhere, so given
        signatures, docstrings and cells go wherever the student moved them; blank lines join runs."""
        given = {line.strip() for _, text in starter.parts for line in text.splitlines() if line.strip()}
        chunks: list[tuple[str, str]] = []
        for where, text in self.parts:
            run: list[str] = []
            first = 0
            lines = text.splitlines()
            for number, line in enumerate([*lines, ""], 1):
                if line.strip() in given or number == len(lines) + 1:  # a given line, or the end, closes a run
                    if any(r.strip() for r in run) and len(chunks) < MAX_CHUNKS:
                        chunks.append((f"{where}, line {first}", "\n".join(run).strip("\n") + "\n"))
                    run = []
                    continue
                if not run:
                    first = number
                run.append(line)
        return chunks


def notebook_cells(raw: bytes) -> list[tuple[str, str]]:
    """The code cells of a notebook file, in order, as ("PA3.ipynb cell N", source); [] when unreadable."""
    try:
        nb = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return []
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return []
    found, size = [], 0
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str) or not source.strip():
            continue
        size += len(source)
        if size > MAX_PART or len(found) >= MAX_CELLS:
            break
        found.append((f"{NOTEBOOK} cell {number}", source.rstrip() + "\n"))
    return found


def read_folder(root: Path, ident: str) -> Code:
    """The code in a folder laid out as a submission (the modules and PA3.ipynb at its top)."""
    code = Code(ident)
    for module in SUBMITTED_MODULES:
        path = root / f"{module}.py"
        if not path.is_file() or path.is_symlink():
            continue
        if path.stat().st_size > MAX_SOURCE:
            code.notes.append(f"{path.name} is over {MAX_SOURCE} bytes: not compared")
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        if len(text) > MAX_PART:
            code.notes.append(f"{path.name}: only its first {MAX_PART} characters were compared")
        code.parts.append((path.name, text[:MAX_PART]))
    notebook = root / NOTEBOOK
    if notebook.is_file() and not notebook.is_symlink():
        if notebook.stat().st_size > MAX_NOTEBOOK:
            code.notes.append(f"{NOTEBOOK} is over {MAX_NOTEBOOK} bytes: not compared")
        else:
            code.parts += notebook_cells(notebook.read_bytes())
    while code.parts and code.size > MAX_TEXT:
        code.parts.pop()
        if not any("over the comparison's limit" in n for n in code.notes):
            code.notes.append(f"over the comparison's limit of {MAX_TEXT} characters of code: the last parts "
                              "were left out")
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
