"""The cell appended after the student's cells: export ``model`` as TorchScript and the history lists as JSON.

TorchScript loads without running any student Python, so the grader can evaluate
the model in a clean process after the kernel has exited.
"""

from __future__ import annotations

import json
from pathlib import Path

HISTORY_NAMES = ("train_losses", "val_losses", "train_accuracies", "val_accuracies")
MODEL_FILE = "model.pt"
HISTORY_FILE = "history.json"

_EXPORT = '''
def _pa3_export(out_dir):
    import json, math, os, torch
    report = {{"model": None, "history": {{}}, "errors": []}}
    ns = globals()
    for name in {names!r}:
        value = ns.get(name)
        try:
            report["history"][name] = None if value is None else [float(v) for v in value]
        except Exception as exc:
            report["errors"].append(f"{{name}}: not a list of numbers ({{type(exc).__name__}}: {{exc}})")
    model = ns.get("model")
    if not isinstance(model, torch.nn.Module):
        report["errors"].append(f"model: expected a torch.nn.Module, found {{type(model).__name__}}")
    else:
        try:
            model.eval()
            with torch.no_grad():
                traced = torch.jit.trace(model, torch.zeros(2, 1, 28, 28))
            traced.save(os.path.join(out_dir, {model_file!r}))
            report["model"] = {model_file!r}
        except Exception as exc:
            report["errors"].append(f"model: could not be exported with torch.jit.trace ({{type(exc).__name__}}: {{exc}})")
    with open(os.path.join(out_dir, {history_file!r}), "w") as f:
        json.dump(report, f, allow_nan=True)

_pa3_export({out_dir!r})
del _pa3_export
'''


def export_cell_source(out_dir: str) -> str:
    """Python for the appended cell, writing into ``out_dir`` (a path the kernel can write)."""
    return _EXPORT.format(names=HISTORY_NAMES, model_file=MODEL_FILE, history_file=HISTORY_FILE, out_dir=out_dir)


def read_export(out_dir: Path) -> dict:
    """The export report: {"model": file or None, "history": {name: list or None}, "errors": [...]}.

    Parsed as plain JSON: a hostile notebook can write anything there, so every
    field is re-checked by the caller.
    """
    path = Path(out_dir) / HISTORY_FILE
    if not path.is_file():
        return {"model": None, "history": {}, "errors": ["the export cell did not run (the notebook stopped earlier)"]}
    try:
        report = json.loads(path.read_text()[:10_000_000])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return {"model": None, "history": {}, "errors": [f"the export report is unreadable: {exc}"]}
    return report if isinstance(report, dict) else {"model": None, "history": {}, "errors": ["malformed export report"]}
