"""The cell appended after the student's cells: export ``model`` and the history lists as JSON.

The model is exported with ``torch.export`` (a graph of ATen ops, saved as ``model.pt2``), or, where that
fails (Python control flow that depends on the data), traced to TorchScript (``model.pt``). torch.jit is
deprecated since torch 2.10 and warns on every call; torch.export is what replaces it for this use. Either
file is a program the student made: it is only ever loaded inside the sandbox (grader/notebook/evaluate.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from grader.notebook import probe

HISTORY_NAMES = ("train_losses", "val_losses", "train_accuracies", "val_accuracies")
MODEL_FILES = {"export": "model.pt2", "torchscript": "model.pt"}  # the only names the grader accepts
HISTORY_FILE = "history.json"
# The input layouts pa3-api.md allows, tried in this order: images as ToTensor() makes them, then flattened.
INPUT_SHAPES = {"images": (1, 28, 28), "features": (784,)}
# Wrappers whose .module is the network they forward to (torch.compile's is found by its _orig_mod).
WRAPPERS = ("DataParallel", "DistributedDataParallel", "AveragedModel")

# Run before the student's cells: grader/notebook/probe.py, loaded as the module _pa3_probe (the export cell
# reads what it recorded from sys.modules), hooked into the kernel.
_SETUP = '''
def _pa3_setup(source):
    import sys, types
    probe = types.ModuleType("_pa3_probe")
    exec(compile(source, "pa3_probe", "exec"), probe.__dict__)
    sys.modules["_pa3_probe"] = probe
    probe.install(get_ipython(), {names!r})

_pa3_setup({source!r})
del _pa3_setup
'''

_EXPORT = '''
def _pa3_save(model, shape, out_dir):
    """Save ``model`` for inputs (batch, *shape): torch.export with a free batch size, else a TorchScript trace."""
    import os, warnings, torch

    def checked(run):
        out = run(torch.zeros(3, *shape))
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, 10):
            shown = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"output {{shown}} for a batch of 3, expected (3, 10)")

    for name in {model_files!r}.values():  # a link or fifo left in the export folder is replaced, not followed
        if os.path.lexists(os.path.join(out_dir, name)):
            os.unlink(os.path.join(out_dir, name))
    with torch.no_grad():
        try:
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            program = torch.export.export(model, (torch.zeros(4, *shape),), dynamic_shapes=({{0: batch}},))
            checked(program.module())
            torch.export.save(program, os.path.join(out_dir, {model_files!r}["export"]))
            return "export"
        except Exception:
            pass  # data-dependent Python in forward: a trace records the path these inputs take
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit's deprecation: said once, in the README
            traced = torch.jit.trace(model, torch.zeros(2, *shape), check_trace=False)
            checked(traced)
            traced.save(os.path.join(out_dir, {model_files!r}["torchscript"]))
        return "torchscript"


def _pa3_export(out_dir):
    import json, math, os, sys, torch
    report = {{"model": None, "input": None, "history": {{}}, "errors": [], "attempts": [], "unwrapped": [],
              "dtype": None, "trained_on": None, "cuda_visible": torch.cuda.is_available(), "lengths_after": []}}
    try:
        report.update(sys.modules["_pa3_probe"].report())
    except Exception:
        pass
    ns = globals()
    for name in {names!r}:
        value = ns.get(name)
        try:
            report["history"][name] = None if value is None else [float(v) for v in value]
        except Exception as exc:
            report["errors"].append(f"{{name}}: not a list of numbers ({{type(exc).__name__}}: {{exc}})")

    def unwrap(module):
        # The network inside a wrapper that tracing refuses or that only forwards to it: torch.compile's
        # OptimizedModule (_orig_mod), DataParallel / DistributedDataParallel / AveragedModel (.module).
        for _ in range(8):
            inner = getattr(module, "_orig_mod", None)
            if not isinstance(inner, torch.nn.Module) and type(module).__name__ in {wrappers!r}:
                inner = getattr(module, "module", None)
            if not isinstance(inner, torch.nn.Module) or inner is module:
                break
            report["unwrapped"].append(type(module).__name__[:40])
            module = inner
        return module

    model = ns.get("model")
    if not isinstance(model, torch.nn.Module):
        # pa3-api.md asks for `model`; a notebook that trained exactly one network under another name
        # (net, mlp...) is graded on it, with a note, rather than failing every model item.
        found = {{}}
        for k, v in list(ns.items()):
            if not k.startswith("_") and isinstance(v, torch.nn.Module) and any(True for _ in v.parameters()):
                found.setdefault(id(unwrap(v)), (k, v))
        report["unwrapped"] = []
        if len(found) == 1:
            report["model_name"], model = next(iter(found.values()))
    if not isinstance(model, torch.nn.Module):
        report["errors"].append(f"model: expected a torch.nn.Module, found {{type(model).__name__}}")
    else:
        model = unwrap(model)
        try:  # where it was trained (Colab: often cuda); tracing and evaluation happen on the CPU
            first = next(model.parameters())
            report["trained_on"], dtype = str(first.device), first.dtype
        except Exception:
            dtype = torch.float32
        try:
            model.to("cpu").eval()
        except Exception as exc:
            report["errors"].append(f"model: could not be moved to the CPU ({{type(exc).__name__}}: {{exc}})")
        traced_model = model
        if isinstance(dtype, torch.dtype) and dtype.is_floating_point and dtype != torch.float32:
            # Trained in float64 (or half): the exported graph takes float32 images, casts them to the
            # model's dtype and gives float32 logits back, so the evaluator always feeds float32.
            class AsDtype(torch.nn.Module):
                def __init__(self, inner, dtype):
                    super().__init__()
                    self.inner, self.dtype = inner, dtype

                def forward(self, x):
                    return self.inner(x.to(self.dtype)).float()

            traced_model, report["dtype"] = AsDtype(model, dtype), str(dtype)
        for layout, shape in {shapes!r}.items():
            try:
                report["format"] = _pa3_save(traced_model, shape, out_dir)
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                report["attempts"].append(f"input (N, {{', '.join(map(str, shape))}}): "
                                          f"{{type(exc).__name__}}: {{first}}")
                continue
            report["model"], report["input"] = {model_files!r}[report["format"]], layout
            break
        else:
            report["errors"].append("model: accepts neither input layout; " + "; ".join(report["attempts"]))
    path = os.path.join(out_dir, {history_file!r})
    if os.path.lexists(path):
        os.unlink(path)  # never written through a link or into a fifo left in its place
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644), "w") as f:
        json.dump(report, f, allow_nan=True)

_pa3_export({out_dir!r})
del _pa3_export, _pa3_save
'''


def cell_digest(source: str) -> str:
    """The key the tracker gives a cell: the same digest of the source it was sent."""
    return hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()[:16]


def tracker_cell_source() -> str:
    """Python for the set-up cell: loads grader/notebook/probe.py in the kernel and installs its hooks (the
    history lists' lengths after every cell, the figures, the loss of the last backward pass)."""
    return _SETUP.format(names=HISTORY_NAMES, source=Path(probe.__file__).read_text(encoding="utf-8"))


def log_positions(report: dict, cells: list[tuple[int, str]]) -> dict[int, int]:
    """{position in the kernel's per-cell log: cell index} for the executed ``cells`` (index, source).

    The log is matched to the cells in order by digest; a cell that did not run has no entry.
    """
    log = report.get("lengths_after")
    log = log if isinstance(log, list) else []
    found: dict[int, int] = {}
    position = 0
    for index, source in cells:
        if not source.strip():
            continue  # nbclient does not send empty cells
        digest = cell_digest(source)
        for at in range(position, min(len(log), position + 64)):  # bounded: the log is the kernel's
            entry = log[at]
            if isinstance(entry, list) and len(entry) == 2 and entry[0] == digest and isinstance(entry[1], dict):
                found[at] = index
                position = at + 1
                break
    return found


def lengths_after(report: dict, cells: list[tuple[int, str]]) -> dict[int, dict[str, int | None]]:
    """{cell index: {list name: its length after that cell ran, or None}} for the executed ``cells`` (index, source)."""
    log = report.get("lengths_after")
    return {index: {name: n if isinstance(n, int) and not isinstance(n, bool) else None
                    for name in HISTORY_NAMES for n in [log[at][1].get(name)]}
            for at, index in log_positions(report, cells).items()}


def export_cell_source(out_dir: str) -> str:
    """Python for the appended cell, writing into ``out_dir`` (a path the kernel can write)."""
    return _EXPORT.format(names=HISTORY_NAMES, shapes=INPUT_SHAPES, model_files=MODEL_FILES, wrappers=WRAPPERS,
                          history_file=HISTORY_FILE, out_dir=out_dir)


REPORT_BYTES = 10_000_000  # the export report's largest accepted size


def read_regular(path: Path, cap: int) -> bytes:
    """The bytes of a regular file the sandbox wrote, read by descriptor: never through a link (O_NOFOLLOW),
    never a fifo or device (non-blocking open, then fstat), never more than ``cap`` bytes.
    Raises OSError (missing, a link) or ValueError (not a regular file, too large)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > cap:
            raise ValueError(f"{info.st_size} bytes, more than the {cap} accepted")
        data = os.read(fd, cap + 1)
        if len(data) > cap:
            raise ValueError(f"more than the {cap} bytes accepted")
        return data
    finally:
        os.close(fd)


def read_export(out_dir: Path) -> dict:
    """The export report: {"model": file or None, "format": "export" or "torchscript", "input": layout or None,
    "history": {name: list or None}, "errors": [...], "attempts": [...], "trained_on": device or None,
    "cuda_visible": bool}.

    Parsed as plain JSON: a hostile notebook can write anything there (a link, a fifo, a huge file), so it is
    read only as a bounded regular file, and every field is re-checked by the caller.
    """
    path = Path(out_dir) / HISTORY_FILE
    try:
        data = read_regular(path, REPORT_BYTES)
    except FileNotFoundError:
        return {"model": None, "history": {}, "errors": ["the export cell did not run (the notebook stopped earlier)"]}
    except (OSError, ValueError) as exc:
        return {"model": None, "history": {},
                "errors": [f"the export report was replaced by something the grader does not read ({exc})"]}
    try:
        report = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return {"model": None, "history": {}, "errors": [f"the export report is unreadable: {exc}"]}
    return report if isinstance(report, dict) else {"model": None, "history": {}, "errors": ["malformed export report"]}
