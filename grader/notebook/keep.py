"""The executed notebook kept for TAs beside results.json: written after results.json, within a byte budget
and the grading's deadline.

Its outputs are already capped as they arrived (grader/notebook/run.py); what is left unbounded is the
student's own cells (200,000 markdown cells render for minutes). The HTML is rendered by nbconvert in a
child process that is killed at the deadline, and carries a Content-Security-Policy that runs no script
(student markdown may hold any HTML).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat

from grader import atomic

NOTEBOOK_BYTES = 48 << 20   # the .ipynb kept (outputs are capped at 24 MB; the rest is the student's own cells)
HTML_CELLS = 3000           # more cells than this are kept as .ipynb only: rendering them takes minutes
HTML_TIMEOUT = 120.0
CSP = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
       "style-src 'unsafe-inline'; font-src data:\">")

# Run as ``python -I -c _RENDER IPYNB HTML CSP``: nbconvert only, no grader code, in a process that can be killed.
_RENDER = """
import sys
import nbformat
from nbconvert import HTMLExporter
source, target, csp = sys.argv[1:4]
html, _ = HTMLExporter().from_notebook_node(nbformat.read(source, as_version=4))
html = html.replace("<head>", "<head>\\n" + csp, 1)
with open(target + ".part", "w", encoding="utf-8") as f:
    f.write(html)
"""


def keep(nb: nbformat.NotebookNode | None, folder: Path, deadline_at: float | None = None) -> list[str]:
    """Write ``PA3.executed.ipynb`` and ``PA3.executed.html`` into ``folder``; return notes on what was not kept."""
    if nb is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb)
    if len(text) > NOTEBOOK_BYTES:
        return [f"the executed notebook ({len(text) >> 20} MB) was not kept: more than {NOTEBOOK_BYTES >> 20} MB"]
    notebook = folder / "PA3.executed.ipynb"
    atomic.write_text(notebook, text)
    if len(nb.cells) > HTML_CELLS:
        return [f"PA3.executed.html was not rendered: the notebook has {len(nb.cells)} cells "
                f"(at most {HTML_CELLS}); PA3.executed.ipynb was kept"]
    timeout = HTML_TIMEOUT if deadline_at is None else min(HTML_TIMEOUT, deadline_at - time.monotonic())
    html = folder / "PA3.executed.html"
    part = Path(f"{html}.part")
    try:
        if timeout < 1:
            raise subprocess.TimeoutExpired("nbconvert", timeout)
        subprocess.run([sys.executable, "-I", "-c", _RENDER, str(notebook), str(html), CSP], capture_output=True,
                       timeout=timeout, check=True)
        part.replace(html)
    except subprocess.TimeoutExpired:
        return [f"PA3.executed.html was not rendered within the {max(0.0, timeout):.0f} s left; "
                "PA3.executed.ipynb was kept"]
    except (OSError, subprocess.CalledProcessError) as exc:
        return [f"PA3.executed.html could not be rendered ({type(exc).__name__}); PA3.executed.ipynb was kept"]
    finally:
        part.unlink(missing_ok=True)
    return []
