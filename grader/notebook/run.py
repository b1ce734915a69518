"""Execute PA3.ipynb in a sandboxed kernel with nbclient; record errors, timeouts, the outputs and the export
(judging them, figures included, is grader/notebook/judge.py's job)."""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.notebook.colab import colab_notes, setup_cell_source
from grader.notebook.export import export_cell_source, lengths_after, log_positions, read_export, tracker_cell_source
from grader.notebook.kernel import SandboxedKernel
from grader.notebook.resources import explain
from grader.threads import kernel_cell_source

HEAD_LINES = 4
# What the kernel's output may cost the grader: beyond these, output is dropped as it arrives (one note says
# how much). Figures are a few tens of KB; a log of every batch is what the caps are for.
CELL_OUTPUT_BYTES = 2 << 20
NOTEBOOK_OUTPUT_BYTES = 24 << 20
# (what a traceback shows, the hint added below it): causes a student can act on.
HINTS = (
    (re.compile(r"URLError|urlopen|Name or service not known|Temporary failure in name resolution|"
                r"Network is unreachable|getaddrinfo|HTTPError|ConnectionError|Error downloading"),
     "hint: grading has no network. The FashionMNIST files are already at DATA_DIR (the PA3_DATA_DIR "
     "environment variable) and at ./data beside the notebook: use root=DATA_DIR or root=\"./data\"."),
    (re.compile(r"Torch not compiled with CUDA|No CUDA GPUs are available|Found no NVIDIA driver|"
                r"CUDA driver|cuda.*is not available|Attempting to deserialize object on a CUDA device", re.I),
     "hint: grading runs on the CPU. Pick the device with "
     "device = \"cuda\" if torch.cuda.is_available() else \"cpu\" and move the model and batches with .to(device)."),
    (re.compile(r"FileNotFoundError|No such file or directory|Dataset not found"),
     "hint: a file or folder the notebook reads is not there in grading. The grader provides FashionMNIST as "
     "torchvision's idx files, FashionMNIST/raw/{train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte, "
     "under DATA_DIR (the PA3_DATA_DIR environment variable) and under ./data beside the notebook: load them with "
     "torchvision.datasets.FashionMNIST(root=DATA_DIR, train=True/False, download=True). Your own files (the "
     "Part 1 modules, data/iris.csv) are beside the notebook: read them by relative paths."),
    (re.compile(r"(?i)fashion[-_]?mnist[^\n]{0,40}\.csv|\.csv[^\n]{0,80}(?:FileNotFound|No such file)"),
     "hint: Kaggle's CSV copies of FashionMNIST (fashion-mnist_train.csv, fashion-mnist_test.csv) are not "
     "provided in grading, only the idx files above; torchvision.datasets.FashionMNIST(root=DATA_DIR) reads them."),
    (re.compile(r"/content/"),
     "hint: /content and Google Drive exist only in Colab; read files relative to the notebook "
     "(for example data/iris.csv) or from DATA_DIR."),
    (re.compile(r"(?:PermissionError|Permission denied)[^\n]{0,200}'/(?:var/)?tmp/"),
     "hint: this grading gives the notebook a temporary folder of its own and closes the machine's /tmp; "
     "save to a path beside the notebook (\"best_model.pt\") or in tempfile.gettempdir()."),
)
# A hard-coded /tmp path refused where no mount namespace could give the kernel a /tmp of its own (Docker's
# default options): an honest habit, stopped by the grading's environment; the TA is told what to change.
TMP_CLOSED = re.compile(r"(?:PermissionError|Permission denied)[^\n]{0,200}'/(?:var/)?tmp/")
TMP_CLOSED_SETTING = ("/tmp: the notebook wrote to a hard-coded /tmp path, which this grading closes where no mount "
                      "namespace can give each notebook its own (Docker's default options); regrade with the "
                      "README's bwrap options for Docker, or ask the student to save beside the notebook")


@dataclass
class CellProblem:
    index: int            # 1-based among code cells, as a student counts them
    head: str             # the first lines of its source
    message: str          # traceback or what happened

    def __str__(self) -> str:
        return f"code cell {self.index}:\n{self.head}\n{self.message}"


@dataclass
class NotebookRun:
    notebook: nbformat.NotebookNode | None = None
    errors: list[CellProblem] = field(default_factory=list)
    stopped: str | None = None          # why execution stopped early (timeout, dead kernel, budget)
    export: dict = field(default_factory=dict)
    wall_time: float = 0.0
    isolation: str = ""
    notes: list[str] = field(default_factory=list)  # Colab-only cells: reported, no points lost
    environment: str | None = None  # the grader's setting to raise when it, not the notebook, stopped the run
    lengths: dict[int, dict] = field(default_factory=dict)  # cell index -> history list lengths after it ran
    cells_at: dict[int, int] = field(default_factory=dict)  # position in the kernel's per-cell log -> cell index

    @property
    def completed(self) -> bool:
        return self.stopped is None and not self.errors


def load(path: Path) -> nbformat.NotebookNode:
    """Read and validate; raises ValueError with a clear message for invalid JSON or an invalid notebook."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises NotJSONError, UnicodeDecodeError, ValidationError...
        raise ValueError(f"PA3.ipynb cannot be read as a notebook ({type(exc).__name__}: {str(exc)[:300]})") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise ValueError(f"PA3.ipynb is not a valid notebook: {str(exc).splitlines()[0][:300]}") from None
    return nb


def _head(cell) -> str:
    lines = cell.source.splitlines()
    head = "\n".join("    " + line for line in lines[:HEAD_LINES])
    return head + ("\n    ..." if len(lines) > HEAD_LINES else "")


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def with_hints(traceback: str) -> str:
    """The traceback, followed by a hint for each cause it shows that a student can act on."""
    hints = [hint for pattern, hint in HINTS if pattern.search(traceback)]
    return "\n".join([traceback, *hints])


# Run in the kernel before the student's cells: an honest notebook that prints a whole data set by accident
# (print(X_train.tolist()), 400 MB) keeps its later output. Each cell's text output is cut at the cell cap in
# the kernel, before it becomes one huge message, which the grader's socket would drop (kernel.MESSAGE_BYTES)
# and with it the rest of the notebook's output. Cooperative only: what is binding is the grader's own caps.
_OUTPUT_CAP = '''
def _pa3_cap_output(cap={cap}):
    import sys
    ip = get_ipython()
    used = {{"bytes": 0, "dropped": 0}}

    def capped(write):
        def write_capped(text, *args, **kwargs):
            if not isinstance(text, str):
                return write(text, *args, **kwargs)
            room = cap - used["bytes"]
            if len(text) > room:
                used["dropped"] += len(text) - max(room, 0)
                text = text[:max(room, 0)]
            used["bytes"] += len(text)
            return write(text, *args, **kwargs) if text else 0
        write_capped.pa3_capped = True
        return write_capped

    def before(*args):
        # IPython puts its own write on the streams for each cell (a tee) and takes it off after: wrap it anew.
        used["bytes"] = used["dropped"] = 0
        for stream in (sys.stdout, sys.stderr):
            if not getattr(stream.write, "pa3_capped", False):
                stream.write = capped(stream.write)

    def after(*args):
        dropped, used["dropped"] = used["dropped"], 0
        if dropped:
            used["bytes"] = 0
            sys.stderr.write(f"\\n[the grader dropped {{dropped}} characters of this cell's printed output]\\n")

    ip.events.register("pre_run_cell", before)
    ip.events.register("post_run_cell", after)

_pa3_cap_output()
del _pa3_cap_output
'''


def output_cap_cell_source() -> str:
    """Python for the set-up cell: each cell's printed text cut at CELL_OUTPUT_BYTES in the kernel."""
    return _OUTPUT_CAP.format(cap=CELL_OUTPUT_BYTES)


def _size(msg: dict) -> int:
    """Roughly what an output message will hold: its text, or the sum of its data's values."""
    content = msg.get("content") or {}
    if isinstance(content.get("text"), str):
        return len(content["text"])
    data = content.get("data") if isinstance(content.get("data"), dict) else {}
    traceback = content.get("traceback") if isinstance(content.get("traceback"), list) else []
    return sum(len(v) if isinstance(v, str) else 64 for v in data.values()) + sum(len(str(t)) for t in traceback)


class BoundedClient(NotebookClient):
    """nbclient's client, keeping at most CELL_OUTPUT_BYTES per cell and NOTEBOOK_OUTPUT_BYTES in all.

    Output past a cap is dropped as it arrives (never accumulated here); ``dropped`` counts it per cell.
    Errors are always kept (their tracebacks are cut), so a cell that raised still says why.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.used: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.total = 0

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg)
        if msg.get("msg_type") == "error":
            content = msg.get("content") or {}
            if isinstance(content.get("traceback"), list):
                content["traceback"] = [str(line)[:2000] for line in content["traceback"][-60:]]
        elif (self.used.get(cell_index, 0) + size > CELL_OUTPUT_BYTES
              or self.total + size > NOTEBOOK_OUTPUT_BYTES):
            self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size
            return None
        self.used[cell_index] = self.used.get(cell_index, 0) + size
        self.total += size
        return super().output(outs, msg, display_id, cell_index)


def note_dropped(nb: nbformat.NotebookNode, dropped: dict[int, int]) -> list[str]:
    """One stream output on each cell whose output was cut, and the notes for the results."""
    notes = []
    for index, size in sorted(dropped.items()):
        if 0 <= index < len(nb.cells):
            text = f"[the grader dropped about {size >> 10} KB of this cell's output beyond its output limit]"
            nb.cells[index].outputs.append(nbformat.v4.new_output("stream", name="stderr", text=text + "\n"))
    if dropped:
        notes.append(f"output beyond the grader's limits ({CELL_OUTPUT_BYTES >> 20} MB per cell, "
                     f"{NOTEBOOK_OUTPUT_BYTES >> 20} MB in all) was dropped: about {sum(dropped.values()) >> 10} KB")
    return notes


def execute(nb: nbformat.NotebookNode, kernel: SandboxedKernel, cell_timeout: float, budget: float) -> NotebookRun:
    """Run the grader's set-up cell, every student cell, then the export cell; never raises for what the
    notebook does."""
    run = NotebookRun(isolation=kernel.description)
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    student = [c for c in nb.cells]
    code_number = {id(c): n + 1 for n, c in enumerate(c for c in student if c.cell_type == "code")}
    run.notes = colab_notes([(code_number[id(c)], c.source) for c in student if c.cell_type == "code"])
    nb.cells = [nbformat.v4.new_code_cell(setup_cell_source() + tracker_cell_source() + kernel_cell_source()
                                          + output_cap_cell_source()), *student,
                nbformat.v4.new_code_cell(export_cell_source(kernel.visible("export")))]
    first, last = 1, len(student)  # student cells are nb.cells[first:last + 1]
    current = {"index": None}

    def is_student(cell_index) -> bool:
        return cell_index is not None and first <= cell_index <= last

    def number(cell_index) -> int:
        return code_number[id(nb.cells[cell_index])]

    def on_start(cell, cell_index):
        current["index"] = cell_index

    def on_error(cell, cell_index, execute_reply):
        if not is_student(cell_index):
            return
        tb = "\n".join(_strip_ansi(line) for o in cell.outputs if o.output_type == "error" for line in o.traceback)
        if TMP_CLOSED.search(tb) and kernel.level in ("user", "process"):
            run.environment = run.environment or TMP_CLOSED_SETTING
        run.errors.append(CellProblem(number(cell_index), _head(cell),
                                      with_hints(tb[-4000:] or "the cell raised an error")))

    client = BoundedClient(nb, km=kernel.manager, timeout=max(1, math.ceil(cell_timeout)), allow_errors=True,
                            resources={"metadata": {"path": str(kernel.mounts["work"].source)}},
                            on_cell_start=on_start, on_cell_error=on_error, record_timing=False)
    start = time.monotonic()
    kernel.watch()
    try:
        asyncio.run(asyncio.wait_for(client.async_execute(), timeout=budget))
    except (CellTimeoutError, asyncio.TimeoutError, TimeoutError) as exc:
        index = current["index"]
        if is_student(index):
            limit = f"{cell_timeout:g} s per cell" if isinstance(exc, CellTimeoutError) else f"{budget:g} s in all"
            setting = (" (the per-cell limit: where a cell that trains normally is stopped, the machine is too "
                       "slow for it; the TA can raise PA3_CELL_TIMEOUT or give the grading more CPUs)"
                       if isinstance(exc, CellTimeoutError) else
                       " (the grading's time budget: where a notebook that trains normally is stopped, the machine "
                       "is too slow for it; give the grading more CPUs or time: --deadline, PA3_DEADLINE, or "
                       "Gradescope's autograder timeout)")
            run.stopped = (f"code cell {number(index)} did not finish within {limit}; the kernel was stopped"
                           f"{setting}\n{_head(nb.cells[index])}")
        elif index is not None and index > last:
            run.stopped = "the model could not be exported in time after the notebook ran"
        else:
            run.stopped = "the kernel did not start in time"
    except DeadKernelError:
        index = current["index"]
        where = f"code cell {number(index)}" if is_student(index) else "the export"
        death = explain(kernel.facts())
        run.stopped = f"the kernel died during {where}: {death.cause}"
        run.environment = death.environment
    except Exception as exc:  # noqa: BLE001 - a kernel that will not start is reported, not raised
        run.stopped = f"the notebook could not be run: {type(exc).__name__}: {str(exc)[:500]}"
    finally:
        kernel.close()
    run.wall_time = time.monotonic() - start
    run.notes += note_dropped(nb, client.dropped)
    nb.cells = nb.cells[first:last + 1]  # the grader's cells are not part of the notebook shown
    run.notebook = nb
    run.export = read_export(kernel.mounts["export"].source)
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    run.lengths, run.cells_at = lengths_after(run.export, code), log_positions(run.export, code)
    return run

