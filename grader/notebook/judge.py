"""Section 2 results (44 points) from the notebook run, the export and the grader's own evaluation.

One function per rubric item, each judging only its own property from plain data (so each is unit-tested
without running a notebook): one mistake costs one item, and its message says what to change.
"""

from __future__ import annotations

import math
import re

from grader.messages import NOT_YOUR_FAULT
from grader.notebook.export import HISTORY_NAMES
from grader.notebook.kernel import DEVICES
from grader.notebook.run import NotebookRun
from grader.results import TestResult
from test_specs.rubric import FASHION_MIN_ACCURACY, MIN_EPOCHS
from test_specs.rubric import NOTEBOOK_ITEMS as RUBRIC

CLAIM_TOLERANCE = 0.05
LOSSES, ACCURACIES = HISTORY_NAMES[:2], HISTORY_NAMES[2:]
INPUT_LAYOUTS = {"images": "(N, 1, 28, 28) images", "features": "(N, 784) flattened features"}


def _result(key: str, passed: bool, output: str, name: str | None = None) -> TestResult:
    number, points, default = RUBRIC[key]
    return TestResult(name=name or default, number=number, score=points if passed else 0, max_score=points,
                      status="passed" if passed else "failed", output=output, tags=["notebook"])


def all_failed(message: str, threshold: float = FASHION_MIN_ACCURACY) -> list[TestResult]:
    """Every Section 2 test, failed with the same reason (no notebook, unreadable, no data...)."""
    return [_result(key, False, message, name=RUBRIC[key][2].format(threshold=threshold, epochs=MIN_EPOCHS))
            for key in RUBRIC]


def clean_history(history: object) -> dict[str, list[float] | None]:
    """The four lists as the kernel wrote them, re-checked: a list of finite-or-not numbers, or None."""
    history = history if isinstance(history, dict) else {}
    cleaned: dict[str, list[float] | None] = {}
    for name in HISTORY_NAMES:
        value = history.get(name)
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        cleaned[name] = [float(v) for v in value] if ok else None
    return cleaned


def accuracy_unit(values: list[float]) -> str | None:
    """"fraction" (all in [0, 1]), "percent" (all in [0, 100], some above 1), or None (empty or out of range)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or any(v < 0 or v > 100 for v in finite):
        return None
    return "percent" if any(v > 1 for v in finite) else "fraction"


def as_fraction(values: list[float]) -> list[float]:
    return [v / 100 for v in values] if accuracy_unit(values) == "percent" else list(values)


def judge_runs(run: NotebookRun) -> TestResult:
    """2.1: every student cell ran, none raised, none timed out. Colab-only cells are skipped and cost nothing."""
    problems = ([run.stopped] if run.stopped else []) + [str(e) for e in run.errors]
    facts = [f"kernel devices: {DEVICES}"]
    trained_on = run.export.get("trained_on")
    if isinstance(trained_on, str) and not trained_on.startswith("cpu"):
        facts.append(f"the model was on {trained_on[:20]} and was moved to the CPU for grading")
    summary = "\n\n".join(problems) if problems else f"ran in {run.wall_time:.1f} s"
    if run.environment:  # the reference notebook would have stopped the same way
        summary += f"\n{NOT_YOUR_FAULT}: the grader's setting is too small for this notebook ({run.environment})"
    return _result("runs", run.completed, "\n".join([summary, *run.notes, *facts]))


def judge_mlp(evaluation: dict, model_name: str | None = None) -> TestResult:
    """2.2: only nn.Linear carries weights and the graph has no convolution."""
    bad = sorted(set(k for k in evaluation["parameterised"] if k != "Linear"))
    ok = not bad and not evaluation["convolution"] and "Linear" in evaluation["parameterised"]
    detail = f"modules with weights: {', '.join(evaluation['parameterised']) or 'none'}"
    if model_name:
        detail = (f"graded `{model_name[:40]}`, the notebook's only network: there is no `model` variable "
                  f"(pa3-api.md asks for one; please name it `model`)\n{detail}")
    if evaluation["convolution"]:
        detail += "; the graph contains a convolution"
    if bad:
        detail += f"; only nn.Linear may carry weights, found {', '.join(bad)}"
    return _result("mlp", ok, detail)


def judge_logits(evaluation: dict, uses_cross_entropy: bool) -> TestResult:
    """2.3: a model trained with nn.CrossEntropyLoss outputs logits, not probabilities."""
    bad = evaluation["softmax_output"] and uses_cross_entropy
    return _result("logits", not bad, (
        "the model's outputs are probabilities (a softmax at the end) but it is trained with "
        "nn.CrossEntropyLoss, which applies log-softmax itself; remove the final softmax") if bad else
        "the model outputs logits")


def judge_accuracy(evaluation: dict, val_accuracies: list[float] | None, threshold: float) -> TestResult:
    """2.4: accuracy measured by the grader; a history far above it is explained here, and only here."""
    title = RUBRIC["accuracy"][2].format(threshold=threshold)
    if evaluation.get("accuracy") is None:
        shape = evaluation.get("output_shape")
        return _result("accuracy", False, f"the model's output has shape {shape}; expected (N, 10) logits", name=title)
    measured = evaluation["accuracy"]
    layout = INPUT_LAYOUTS.get(evaluation.get("input") or "images", "(N, 1, 28, 28) images")
    lines = [f"measured by the grader on {evaluation['n']} test images the notebook never had (the half of the "
             f"test split the grader keeps), fed as {layout} exactly as transforms.ToTensor() makes them "
             f"(values in [0, 1])"]
    unit = accuracy_unit(val_accuracies or [])
    if val_accuracies and unit and math.isfinite(val_accuracies[-1]):
        claimed = as_fraction(val_accuracies)[-1]
        lines.append(f"val_accuracies read as {'percentages' if unit == 'percent' else 'fractions'}: "
                     f"last entry {val_accuracies[-1]:g} = {claimed:.3f}")
        if claimed > measured + CLAIM_TOLERANCE:
            lines.append(f"the notebook's own last validation accuracy is {claimed:.3f}, far above the measured "
                         f"{measured:.3f}: normalisation or flattening outside the model (put transforms.Normalize "
                         f"inside the model instead), a history that was not computed from this model, or a model "
                         f"left in training mode can explain it")
    elif val_accuracies:
        lines.append("val_accuracies holds values outside [0, 100]: neither fractions nor percentages")
    return _result("accuracy", measured >= threshold, "\n".join(lines), name=f"{title} (measured {measured:.3f})")


def judge_epochs(history: dict[str, list[float] | None]) -> TestResult:
    """2.5: the lengths of the four lists, nothing else (whether they agree with the model is 2.4's business)."""
    lengths = {name: None if history.get(name) is None else len(history[name]) for name in HISTORY_NAMES}
    short = [f"{name}: {'missing or not a list of numbers' if n is None else n}"
             for name, n in lengths.items() if n is None or n < MIN_EPOCHS]
    output = ", ".join(f"{k}: {v}" for k, v in lengths.items())
    if short:
        output = f"fewer than {MIN_EPOCHS} epochs: {'; '.join(short)}"
    units = {"fraction": "fractions", "percent": "percentages"}
    accuracies = [f"{name} read as {units[accuracy_unit(history[name])]}" for name in ACCURACIES
                  if history.get(name) and accuracy_unit(history[name])]
    if accuracies:
        output += "\n" + ", ".join(accuracies)
    return _result("epochs", not short, output,
                   name=(RUBRIC["epochs"][2].format(epochs=MIN_EPOCHS)
                         + f" (found {min((n or 0) for n in lengths.values())})"))


def figures(nb) -> list[tuple[int, str]]:
    """(cell index, cell source) of every figure (PNG, SVG or JPEG) drawn by a cell that ran without error.

    A cell that raised can still show the empty figure it opened: that is no plot.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if any(kind in data for kind in ("image/png", "image/svg+xml", "image/jpeg")):
                found.append((index, cell.source))
    return found


def attribute_figures(found: list[tuple[int, str]], first_history_cell: int | None) -> tuple[list[int], list[int]]:
    """(cells whose figure shows the losses, cells whose figure shows the accuracies), from ``figures()``.

    A cell naming train_/val_losses (accuracies) plots them. When the cells call a helper instead, figures
    drawn after the history first appears stand in, in order: the first for the losses, the next for the
    accuracies (a Part 1 plot earlier in the notebook never does).
    """
    loss = [i for i, src in found if re.search(r"\b(train|val)_losses\b", src)]
    acc = [i for i, src in found if re.search(r"\b(train|val)_accuracies\b", src)]
    unattributed = [i for i, src in found if i not in loss and i not in acc
                    and first_history_cell is not None and i > first_history_cell]
    if not loss and unattributed:
        loss = [unattributed.pop(0)]
    if not acc and unattributed:
        acc = [unattributed.pop(0)]
    return loss, acc


def judge_plots(found: list[tuple[int, str]], first_history_cell: int | None,
                history: dict[str, list[float] | None], cell_number: dict[int, int] | None = None,
                lengths: dict[int, dict] | None = None) -> list[TestResult]:
    """2.6 / 2.7: a figure drawn by a cell that uses the loss lists, and one by a cell that uses the accuracy lists.

    When the cells call a helper instead, figures drawn after the history first appears count in order (so a
    Part 1 plot earlier in the notebook never stands in for them). A figure counts only when the lists it
    shows hold numbers: when the notebook finishes, and right after its own cell ran (``lengths``, where
    known); otherwise it is blank axes.
    """
    cell_number, lengths = cell_number or {}, lengths or {}
    by_cell = dict(found)
    loss, acc = attribute_figures(found, first_history_cell)
    summary = f"{len(found)} figure(s) in the outputs of the grader's run"

    def blank(index: int, names: tuple[str, ...]) -> str | None:
        """Why the figure of cell ``index`` shows blank axes, or None when its lists hold numbers."""
        shown = [n for n in names if re.search(rf"\b{n}\b", by_cell[index])] or list(names)
        at_end = [n for n in shown if not history.get(n)]
        if at_end:
            return (f"{', '.join(at_end)} {'is' if len(at_end) == 1 else 'are'} missing or empty when the notebook "
                    f"finishes (fill the lists in the training loop, then plot them)")
        then = lengths.get(index, {})
        early = [n for n in shown if n in then and not then[n]]
        if early:
            return (f"{', '.join(early)} {'is' if len(early) == 1 else 'are'} still empty when code cell "
                    f"{cell_number.get(index, index)} runs (the lists are filled by a later cell: run the plot after "
                    f"training, top to bottom)")
        return None

    def judged(key: str, cells: list[int], names: tuple[str, ...], what: str) -> TestResult:
        if not cells:
            return _result(key, False, f"{summary}; no figure of {what} (call plt.show() in the cell that plots them)")
        reasons = []
        for index in cells:
            reason = blank(index, names)
            if reason is None:
                return _result(key, True, f"{summary}; {what} in code cell {cell_number.get(index, index)}")
            reasons.append(reason)
        where = f"code cell {cell_number.get(cells[0], cells[0])}"
        return _result(key, False, f"{summary}; the figure of {what} in {where} shows blank axes: {reasons[0]}")

    return [judged("loss_plot", loss, LOSSES, "train_losses / val_losses"),
            judged("accuracy_plot", acc, ACCURACIES, "train_accuracies / val_accuracies")]


def judge(run: NotebookRun, evaluation: dict | None, evaluation_error: str | None,
          threshold: float = FASHION_MIN_ACCURACY) -> list[TestResult]:
    nb = run.notebook
    history = clean_history(run.export.get("history"))
    export_errors = [str(e)[:2000] for e in run.export.get("errors", []) or []][:10]

    model_problem = evaluation_error or ("; ".join(export_errors) if evaluation is None else None)
    if evaluation is None and not model_problem:
        model_problem = "no model was exported (the notebook stopped before `model` existed)"
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code") if nb is not None else ""
    uses_ce = "CrossEntropyLoss" in source or "cross_entropy" in source

    results = [judge_runs(run)]
    if evaluation is None:
        results += [_result("mlp", False, model_problem), _result("logits", False, model_problem),
                    _result("accuracy", False, model_problem, name=RUBRIC["accuracy"][2].format(threshold=threshold))]
    else:
        name = run.export.get("model_name")
        results += [judge_mlp(evaluation, name if isinstance(name, str) else None), judge_logits(evaluation, uses_ce),
                    judge_accuracy(evaluation, history["val_accuracies"], threshold)]
    results.append(judge_epochs(history))

    found = figures(nb) if nb is not None else []
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"] if nb is not None else []
    history_cells = [i for i in code_cells if any(name in nb.cells[i].source for name in HISTORY_NAMES)]
    results += judge_plots(found, history_cells[0] if history_cells else None, history,
                           {index: n + 1 for n, index in enumerate(code_cells)}, run.lengths)
    return results
