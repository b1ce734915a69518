"""Section 2 results (44 points) from the notebook run, the export and the grader's own evaluation."""

from __future__ import annotations

import re

from grader.notebook.export import HISTORY_NAMES
from grader.notebook.run import NotebookRun, figures
from grader.results import TestResult
from test_specs.rubric import FASHION_MIN_ACCURACY, MIN_EPOCHS

# (number, points, name): the rubric of Section 2
RUBRIC = {
    "runs": ("2.1", 6, "PA3.ipynb: runs to the end without errors"),
    "mlp": ("2.2", 6, "PA3.ipynb: MLP only (weights only in nn.Linear, no convolution), read from the exported model"),
    "logits": ("2.3", 3, "PA3.ipynb: no softmax before nn.CrossEntropyLoss"),
    "accuracy": ("2.4", 12, "PA3.ipynb: validation accuracy >= {threshold:.2f}"),
    "epochs": ("2.5", 3, "PA3.ipynb: at least {epochs} epochs recorded in all four history lists"),
    "loss_plot": ("2.6", 7, "PA3.ipynb: plot of training and validation loss per epoch"),
    "accuracy_plot": ("2.7", 7, "PA3.ipynb: plot of training and validation accuracy per epoch"),
}
CLAIM_TOLERANCE = 0.05


def _result(key: str, passed: bool, output: str, name: str | None = None) -> TestResult:
    number, points, default = RUBRIC[key]
    return TestResult(name=name or default, number=number, score=points if passed else 0, max_score=points,
                      status="passed" if passed else "failed", output=output, tags=["notebook"])


def all_failed(message: str, threshold: float = FASHION_MIN_ACCURACY) -> list[TestResult]:
    """Every Section 2 test, failed with the same reason (no notebook, unreadable, no data...)."""
    return [_result(key, False, message, name=RUBRIC[key][2].format(threshold=threshold, epochs=MIN_EPOCHS))
            for key in RUBRIC]


def judge(run: NotebookRun, evaluation: dict | None, evaluation_error: str | None,
          threshold: float = FASHION_MIN_ACCURACY) -> list[TestResult]:
    nb = run.notebook
    history = run.export.get("history", {}) or {}
    export_errors = run.export.get("errors", []) or []
    results = []

    # 2.1 runs to the end
    problems = ([run.stopped] if run.stopped else []) + [str(e) for e in run.errors]
    results.append(_result("runs", run.completed, "\n\n".join(problems) or f"ran in {run.wall_time:.1f} s"))

    model_problem = evaluation_error or ("; ".join(export_errors) if evaluation is None else None)
    if evaluation is None and not model_problem:
        model_problem = "no model was exported (the notebook stopped before `model` existed)"

    # 2.2 MLP only
    if evaluation is None:
        results.append(_result("mlp", False, model_problem))
    else:
        bad = sorted(set(k for k in evaluation["parameterised"] if k != "Linear"))
        ok = not bad and not evaluation["convolution"] and "Linear" in evaluation["parameterised"]
        detail = f"modules with weights: {', '.join(evaluation['parameterised']) or 'none'}"
        if evaluation["convolution"]:
            detail += "; the graph contains a convolution"
        if bad:
            detail += f"; only nn.Linear may carry weights, found {', '.join(bad)}"
        results.append(_result("mlp", ok, detail))

    # 2.3 logits, not probabilities, into CrossEntropyLoss
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code") if nb is not None else ""
    uses_ce = "CrossEntropyLoss" in source or "cross_entropy" in source
    if evaluation is None:
        results.append(_result("logits", False, model_problem))
    else:
        bad = evaluation["softmax_output"] and uses_ce
        results.append(_result("logits", not bad, (
            "the model's outputs are probabilities (a softmax at the end) but it is trained with "
            "nn.CrossEntropyLoss, which applies log-softmax itself; remove the final softmax") if bad else
            "the model outputs logits"))

    # 2.4 accuracy, measured here
    claimed = history.get("val_accuracies") or []
    claimed_last = claimed[-1] if claimed and isinstance(claimed[-1], (int, float)) else None
    if evaluation is None or evaluation.get("accuracy") is None:
        shape = evaluation.get("output_shape") if evaluation else None
        message = model_problem or f"the model's output has shape {shape}; expected (N, 10) logits for (N, 1, 28, 28) images"
        results.append(_result("accuracy", False, message, name=RUBRIC["accuracy"][2].format(threshold=threshold)))
    else:
        measured = evaluation["accuracy"]
        lines = [f"measured by the grader on {evaluation['n']} test images, fed as transforms.ToTensor() makes them"]
        if claimed_last is not None and claimed_last > measured + CLAIM_TOLERANCE:
            lines.append(f"the notebook's own last validation accuracy is {claimed_last:.3f}, far above the measured "
                         f"{measured:.3f}: normalisation or flattening outside the model, a history that was not "
                         f"computed from this model, or a model left in training mode can explain it")
        results.append(_result("accuracy", measured >= threshold, "\n".join(lines),
                               name=f"{RUBRIC['accuracy'][2].format(threshold=threshold)} (measured {measured:.3f})"))

    # 2.5 epochs
    lengths = {name: len(history[name]) if isinstance(history.get(name), list) else None for name in HISTORY_NAMES}
    short = [f"{name}: {'missing' if n is None else n}" for name, n in lengths.items() if n is None or n < MIN_EPOCHS]
    mismatch = (claimed_last is not None and evaluation and evaluation.get("accuracy") is not None
                and abs(claimed_last - evaluation["accuracy"]) > CLAIM_TOLERANCE)
    output = ", ".join(f"{k}: {v}" for k, v in lengths.items())
    if short:
        output = f"fewer than {MIN_EPOCHS} epochs: {'; '.join(short)}"
    elif mismatch:
        output += (f"\nthe last val_accuracies entry ({claimed_last:.3f}) does not match the exported model "
                   f"({evaluation['accuracy']:.3f}): the history must come from training this model")
    results.append(_result("epochs", not short and not mismatch, output,
                           name=RUBRIC["epochs"][2].format(epochs=MIN_EPOCHS) + f" (found {min((n or 0) for n in lengths.values())})"))

    # 2.6 / 2.7 plots
    found = figures(nb) if nb is not None else []
    history_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                     and any(name in c.source for name in HISTORY_NAMES)] if nb is not None else []
    results += _plots(found, history_cells[0] if history_cells else None)
    return results


def _plots(found: list[tuple[int, str]], first_history_cell: int | None) -> list[TestResult]:
    """A figure drawn by a cell that uses the loss lists, and one by a cell that uses the accuracy lists.

    When the cells call a helper instead, figures drawn after the history first appears count in
    order (so a Part 1 plot earlier in the notebook never stands in for them).
    """
    loss = [i for i, src in found if re.search(r"\b(train|val)_losses\b", src)]
    acc = [i for i, src in found if re.search(r"\b(train|val)_accuracies\b", src)]
    unattributed = [i for i, src in found if i not in loss and i not in acc
                    and first_history_cell is not None and i > first_history_cell]
    if not loss and unattributed:
        loss = [unattributed.pop(0)]
    if not acc and unattributed:
        acc = [unattributed.pop(0)]
    summary = f"{len(found)} figure(s) in the outputs of the grader's run"
    return [
        _result("loss_plot", bool(loss), summary + ("" if loss else "; no figure of train_losses / val_losses "
                                                              "(call plt.show() in the cell that plots them)")),
        _result("accuracy_plot", bool(acc), summary + ("" if acc else "; no figure of train_accuracies / "
                                                                   "val_accuracies")),
    ]
