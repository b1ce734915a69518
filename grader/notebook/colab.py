"""Colab habits in a submitted notebook: which lines are Colab-only, and the kernel set-up that skips them.

Students write PA3.ipynb in Google Colab. Lines that only make sense there (installing packages that the
grading environment already has, fetching files over a network grading does not have, changing into
/content) are skipped when the grader runs the notebook; ``google.colab`` itself is a stand-in module in
the kernel (grader/sandbox/runtime/colab), so ``drive.mount(...)`` does nothing. None of this costs points:
what a Colab-only line would have done is already provided. Every such cell is reported by its number.
"""

from __future__ import annotations

import importlib.metadata
import re

# One-line shell escapes and magics that are skipped (never multi-line, so a line can be replaced by `pass`).
SKIPPED = {
    "installs packages": re.compile(r"^\s*[!%]\s*(?:sudo\s+)?(?:pip3?|python3?\s+-m\s+pip|conda|mamba|apt(?:-get)?)"
                                    r"\s+install\b"),
    "downloads over the network": re.compile(r"^\s*!\s*(?:wget|curl|gdown|git\s+clone|kaggle)\b"),
    "changes into a Colab folder": re.compile(r"^\s*%cd\s+['\"]?/content\b"),
    "is a Colab-only magic": re.compile(r"^\s*%(?:tensorflow_version|load_ext\s+tensorboard|tensorboard)\b"),
}
# Lines that run as they are (the stand-in google.colab, or IPython itself, handles them).
HARMLESS = {
    "uses google.colab (Drive is not needed: the files are beside the notebook)":
        re.compile(r"^\s*(?:from\s+google\.colab\b|import\s+google\.colab\b)"),
    "sets the inline plotting backend (the default here too)": re.compile(r"^\s*%matplotlib\s+inline\b"),
    "uploads through Colab's browser (the stand-in returns the submission's files, already beside the notebook)":
        re.compile(r"^[^#]*\bfiles\.upload\s*\("),
    "downloads through Colab's browser (the stand-in does nothing)": re.compile(r"^[^#]*\bfiles\.download\s*\("),
}
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def skipped_reason(line: str) -> str | None:
    """Why ``line`` is skipped in grading, or None when it runs."""
    return next((why for why, pattern in SKIPPED.items() if pattern.match(line)), None)


def _install_detail(line: str) -> str:
    """For a pip install line: which of its packages the grading environment has."""
    if not re.search(r"\bpip3?\b|-m\s+pip\b", line):
        return ""
    words = line.split("install", 1)[1].split()
    names = [m.group(0) for w in words if not w.startswith("-") and (m := _PACKAGE.match(w))]
    missing = []
    for name in names:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return f" ({', '.join(missing)} NOT installed in the grading environment: tell the course staff)"
    return " (already installed here)" if names else ""


def colab_notes(cells: list[tuple[int, str]]) -> list[str]:
    """One line per code cell (numbered as a student counts them) that holds Colab-only lines."""
    notes = []
    for number, source in cells:
        found = []
        for line in source.splitlines():
            why = skipped_reason(line)
            if why:
                found.append(f"`{line.strip()[:80]}` {why}{_install_detail(line) if 'install' in why else ''}: skipped")
                continue
            harmless = next((why for why, pattern in HARMLESS.items() if pattern.match(line)), None)
            if harmless:
                found.append(f"`{line.strip()[:80]}` {harmless}: ran as is")
        if found:
            notes.append(f"code cell {number} is Colab-only in part, no points lost: " + "; ".join(found))
    return notes


SETUP_CELL = '''
def _pa3_colab_lines(lines, _skip={patterns!r}):
    import re
    return ["{{}}pass  # skipped by the PA3 grader (Colab-only): {{}}".format(line[:len(line) - len(line.lstrip())],
            line.strip()) + "\\n" if any(re.match(p, line) for p in _skip) else line for line in lines]

get_ipython().input_transformers_cleanup.append(_pa3_colab_lines)
del _pa3_colab_lines
'''


def setup_cell_source() -> str:
    """Python for the cell run before the student's: installs the transformer that skips Colab-only lines."""
    return SETUP_CELL.format(patterns=[p.pattern for p in SKIPPED.values()])
