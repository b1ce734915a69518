"""Section 2 results (44 points) from the notebook run, the export and the grader's own evaluation.

One function per rubric item, each judging only its own property from plain data (so each is unit-tested
without running a notebook): one mistake costs one item, and its message says what to change.
"""

from __future__ import annotations

import math
import re

from grader.messages import NOT_YOUR_FAULT
from grader.notebook import plots
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
    training = run.export.get("training")
    compiled = training.get("compiled") if isinstance(training, dict) else None
    if isinstance(compiled, int) and not isinstance(compiled, bool) and compiled > 0:
        facts.append("torch.compile ran with its eager backend (the same computation, without generating C++ code)")
    summary = "\n\n".join(problems) if problems else f"ran in {run.wall_time:.1f} s"
    if run.environment:  # the reference notebook would have stopped the same way
        summary += f"\n{NOT_YOUR_FAULT}: the grader's setting is too small for this notebook ({run.environment})"
    raised = {e.index for e in run.errors}
    notes = []
    for note in run.notes:  # a Colab note never says "no points lost" about a cell that failed 2.1
        found = re.match(r"code cell (\d+) is Colab-only in part, no points lost: ", note)
        if found and int(found.group(1)) in raised:
            note = (f"code cell {found.group(1)} holds Colab-only lines, which cost nothing, but the cell raised "
                    f"the error shown above: {note[found.end():]}")
        notes.append(note)
    return _result("runs", run.completed, "\n".join([summary, *notes, *facts]))


WRAPPER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


def judge_mlp(evaluation: dict, model_name: str | None = None, unwrapped: object = None) -> TestResult:
    """2.2: only nn.Linear carries weights and the graph has no convolution."""
    bad = sorted(set(k for k in evaluation["parameterised"] if k != "Linear"))
    ok = not bad and not evaluation["convolution"] and "Linear" in evaluation["parameterised"]
    detail = f"modules with weights: {', '.join(evaluation['parameterised']) or 'none'}"
    if model_name:
        detail = (f"graded `{model_name[:40]}`, the notebook's only network: there is no `model` variable "
                  f"(pa3-api.md asks for one; please name it `model`)\n{detail}")
    wrappers = [w for w in unwrapped if isinstance(w, str) and WRAPPER_NAME.match(w)][:8] \
        if isinstance(unwrapped, list) else []
    if wrappers:
        detail += (f"\ngraded the network inside {' inside '.join(wrappers)} (torch.compile, DataParallel and "
                   f"the like only forward to it; no points lost)")
    if evaluation["convolution"]:
        detail += "; the graph contains a convolution"
    if bad:
        detail += f"; only nn.Linear may carry weights, found {', '.join(bad)}"
    return _result("mlp", ok, detail)


NODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
# Where the model's own last layer begins: below it, a softmax belongs to the model, not to the loss.
LAYER_NODES = re.compile(r"^(Addmm|Mm|Mv|Bmm|Linear|Matmul|Convolution|MkldnnLinear|CompiledFunction)")
MAX_GRAPH_NODES = 256


def loss_graph(training: object) -> list[tuple[str, list[int]]] | None:
    """The last backward pass's autograd nodes from the kernel, re-checked: [(name, child indices)], root first."""
    backward = training.get("backward") if isinstance(training, dict) else None
    nodes = backward.get("nodes") if isinstance(backward, dict) else None
    if not isinstance(nodes, list) or not nodes or len(nodes) > MAX_GRAPH_NODES:
        return None
    graph = []
    for node in nodes:
        if not (isinstance(node, list) and len(node) == 2 and isinstance(node[0], str) and NODE_NAME.match(node[0])
                and isinstance(node[1], list) and len(node[1]) <= 16
                and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(nodes) for c in node[1])):
            return None
        graph.append((node[0], list(node[1])))
    return graph


def _below(graph: list[tuple[str, list[int]]], start: int, name: str, depth: int = 8) -> bool:
    """Whether a node called ``name`` is reached from ``start`` before the model's last layer."""
    frontier, seen = list(graph[start][1]), set()
    for _ in range(depth):
        following = []
        for i in frontier:
            if i in seen or LAYER_NODES.match(graph[i][0]):
                continue
            seen.add(i)
            if graph[i][0] == name:
                return True
            following += graph[i][1]
        frontier = following
    return False


def describe_loss(graph: list[tuple[str, list[int]]]) -> tuple[str, bool]:
    """(what the loss of the last backward pass was, whether it applied a log-softmax to probabilities)."""
    chain, i = [], 0
    while len(chain) < 6:
        chain.append(graph[i][0])
        if not graph[i][1] or LAYER_NODES.match(graph[i][0]):
            break
        i = graph[i][1][0]
    shown = " <- ".join(chain)
    names = [name for name, _ in graph]
    double = any(name == "LogSoftmaxBackward0" and _below(graph, i, "SoftmaxBackward0") for i, name in enumerate(names))
    if double:
        return f"a log-softmax applied to softmax probabilities ({shown})", True
    if any(name == "LogSoftmaxBackward0" for name in names) and "NllLossBackward0" in names:
        return f"cross-entropy on logits (log-softmax then NLL, as nn.CrossEntropyLoss computes it: {shown})", False
    if any(name == "LogBackward0" and _below(graph, i, "SoftmaxBackward0") for i, name in enumerate(names)):
        return f"-log of softmax probabilities, a hand-written cross-entropy ({shown})", False
    return f"a loss ending in {shown}", False


def judge_logits(evaluation: dict, training: object = None) -> TestResult:
    """2.3: the loss actually used (the last backward pass, and what F.cross_entropy was given in training) never
    applies cross-entropy's log-softmax to probabilities. A softmax at the end of the model is fine when the loss
    takes the log of its output (a hand-written cross-entropy, or NLLLoss on log-probabilities)."""
    advice = ("nn.CrossEntropyLoss applies log-softmax itself: remove the final softmax (or train on its log "
              "with nn.NLLLoss)")
    outputs = ("the model outputs probabilities (a softmax at the end)" if evaluation.get("softmax_output")
               else "the model outputs logits")
    seen = training.get("cross_entropy") if isinstance(training, dict) else None
    if isinstance(seen, dict) and seen.get("last_probabilities") is True:
        return _result("logits", False, f"{outputs}; in training, nn.CrossEntropyLoss was given probabilities "
                                        f"(every row non-negative, summing to 1): {advice}")
    graph = loss_graph(training)
    if graph is None:
        bad = bool(evaluation.get("softmax_output"))
        return _result("logits", not bad, f"{outputs}; no training step (backward pass) was seen, so the loss "
                                          f"could not be read and the model alone was judged"
                                          + (f": {advice}" if bad else ""))
    loss, double = describe_loss(graph)
    if double:
        return _result("logits", False, f"{outputs}; the loss of the last backward pass is {loss}: {advice}")
    return _result("logits", True, f"{outputs}; the loss of the last backward pass is {loss}")


DTYPE_NAME = re.compile(r"^torch\.[a-z0-9]{1,20}$")


def judge_accuracy(evaluation: dict, val_accuracies: list[float] | None, threshold: float,
                   dtype: object = None) -> TestResult:
    """2.4: accuracy measured by the grader; a history far above it is explained here, and only here.
    Any float dtype is accepted: a model trained in float64 or half gets the float32 images cast to its dtype."""
    title = RUBRIC["accuracy"][2].format(threshold=threshold)
    if evaluation.get("accuracy") is None:
        shape = evaluation.get("output_shape")
        return _result("accuracy", False, f"the model's output has shape {shape}; expected (N, 10) logits", name=title)
    measured = evaluation["accuracy"]
    layout = INPUT_LAYOUTS.get(evaluation.get("input") or "images", "(N, 1, 28, 28) images")
    lines = [f"measured by the grader on {evaluation['n']} test images the notebook never had (the half of the "
             f"test split the grader keeps), fed as {layout} exactly as transforms.ToTensor() makes them "
             f"(values in [0, 1])"]
    if isinstance(dtype, str) and DTYPE_NAME.match(dtype):
        lines.append(f"the model's parameters are {dtype}: the grader cast the float32 images to {dtype} for it "
                     f"and read its outputs as float32 (any float dtype is accepted; no points lost)")
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
    """2.5: the lengths of the four lists, nothing else (whether they agree with the model is 2.4's business):
    all there, all equal (one entry per epoch in each), at least MIN_EPOCHS."""
    lengths = {name: None if history.get(name) is None else len(history[name]) for name in HISTORY_NAMES}
    problems = [f"{name}: {'missing or not a list of numbers' if n is None else n}"
                for name, n in lengths.items() if n is None or n < MIN_EPOCHS]
    output = ", ".join(f"{k}: {v}" for k, v in lengths.items())
    if problems:
        output = f"fewer than {MIN_EPOCHS} epochs: {'; '.join(problems)}"
    known = {name: n for name, n in lengths.items() if n}
    if len(set(known.values())) > 1:
        shortest = min(known.values())
        longer = [f"{name} has {n}" for name, n in known.items() if n > shortest]
        fewest = [name for name, n in known.items() if n == shortest]
        per_batch = max(known.values()) >= 2 * shortest
        problems.append("unequal lengths")
        output += (f"\nthe four lists need one entry per epoch each, but {', '.join(longer)} entries beside "
                   f"{shortest} in {', '.join(fewest)}"
                   + (": the longer ones look like one entry per batch; append once per epoch (for example the "
                      "epoch's mean loss)" if per_batch else ""))
    units = {"fraction": "fractions", "percent": "percentages"}
    accuracies = [f"{name} read as {units[accuracy_unit(history[name])]}" for name in ACCURACIES
                  if history.get(name) and accuracy_unit(history[name])]
    if accuracies:
        output += "\n" + ", ".join(accuracies)
    return _result("epochs", not problems, output,
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
                lengths: dict[int, dict] | None = None, recorded: list[plots.Figure] | None = None,
                cells_at: dict[int, int] | None = None) -> list[TestResult]:
    """2.6 / 2.7: a figure in the outputs that draws the training and validation losses (accuracies).

    ``recorded``: the figures the kernel recorded (grader/notebook/plots.py), ``cells_at`` mapping their log
    positions to cells. A figure counts when its series carry the lists' values as the notebook left them (or,
    where the lists are not there, two per-epoch-like curves), and when it was shown in the outputs of a cell
    that did not raise. Without records (the kernel recorded nothing), cells are attributed by the lists they
    name, as explained in ``attribute_figures``. The names and ``lengths`` also explain a failure: blank axes
    drawn before training, or lists never filled.
    """
    cell_number, lengths, cells_at = cell_number or {}, lengths or {}, cells_at or {}
    by_cell = dict(found)
    loss, acc = attribute_figures(found, first_history_cell)
    summary = f"{len(found)} figure(s) in the outputs of the grader's run"

    def code(index: int | None) -> str:
        return f"code cell {cell_number.get(index, index)}" if index is not None else "a cell"

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
            return (f"{', '.join(early)} {'is' if len(early) == 1 else 'are'} still empty when {code(index)} "
                    f"runs (the lists are filled by a later cell: run the plot after training, top to bottom)")
        return None

    def by_names(key: str, cells: list[int], names: tuple[str, ...], what: str) -> TestResult:
        if not cells:
            return _result(key, False, f"{summary}; no figure of {what} (call plt.show() in the cell that plots them)")
        reasons = []
        for index in cells:
            reason = blank(index, names)
            if reason is None:
                return _result(key, True, f"{summary}; {what} in {code(index)}")
            reasons.append(reason)
        return _result(key, False,
                       f"{summary}; the figure of {what} in {code(cells[0])} shows blank axes: {reasons[0]}")

    if recorded is None or (not recorded and found):  # the kernel saw no figure: the names decide, as before
        return [by_names("loss_plot", loss, LOSSES, "train_losses / val_losses"),
                by_names("accuracy_plot", acc, ACCURACIES, "train_accuracies / val_accuracies")]

    for figure in recorded:
        figure.cell = cells_at.get(figure.position)
    shown = [f for f in recorded if f.how == "shown" and f.cell in by_cell]  # in the outputs, in a cell that ran
    listing = "; ".join(f"{code(f.cell)}: {f.describe()}" for f in shown[-4:]) or "none"

    def judged(key: str, cells: list[int], names: tuple[str, ...], what: str, scales: tuple[float, ...]) -> TestResult:
        label = f"{names[0]} / {names[1]}"
        train, val = history.get(names[0]), history.get(names[1])
        if train is None or val is None:  # not in the namespace at the end (kept inside a function, misnamed)
            missing = ", ".join(n for n, v in ((names[0], train), (names[1], val)) if v is None)
            unchecked = (f"{missing} {'is' if ', ' not in missing else 'are'} not defined as a list of numbers "
                         f"when the notebook finishes (kept inside a function?), so the figure could not be checked "
                         f"against the lists")
            for figure in reversed(shown):
                n = plots.curve_pairs(figure, what)
                if n is not None:
                    return _result(key, True, f"{summary}; {unchecked}; {code(figure.cell)} shows two curves of "
                                              f"{n} points that look like the per-epoch {what}: {figure.describe()}")
            return _result(key, False, f"{summary}; {unchecked}, and no figure shows two per-epoch curves of the "
                                       f"{what}; figures shown: {listing}")
        if train and val:
            for figure in shown:
                if plots.showing(figure, train, val, scales) == (True, True):
                    return _result(key, True, f"{summary}; {code(figure.cell)} draws {label} (which hold "
                                              f"{len(train)} and {len(val)} values): {figure.describe()}")
            for figure in shown:
                one = plots.showing(figure, train, val, scales)
                if any(one):
                    drawn, absent = (names[0], names[1]) if one[0] else (names[1], names[0])
                    return _result(key, False, f"{summary}; {code(figure.cell)} draws {drawn} but not {absent}: "
                                               f"plot both in one figure")
            for figure in recorded:
                if figure.how != "shown" and plots.showing(figure, train, val, scales) == (True, True):
                    name = (figure.file or "").replace("\\", "/").rsplit("/", 1)[-1]
                    shown_file = [i for i, src in found  # the saved file displayed: display(Image("loss.png"))
                                  if name and name in src and re.search(r"\b(Image|imread|imshow|display)\s*\(", src)]
                    if shown_file:
                        return _result(key, True, f"{summary}; {code(figure.cell)} saved {label} to {name!r}, shown "
                                                  f"in {code(shown_file[0])}: {figure.describe()}")
                    done = f"saved to {figure.file!r}" if figure.how == "saved" and figure.file else figure.how
                    return _result(key, False, f"{summary}; the figure of {label} in {code(figure.cell)} was {done} "
                                               f"but never shown in the outputs: call plt.show() after plotting; "
                                               f"figures shown: {listing}")
        for index in cells:
            if re.search(rf"\b({names[0]}|{names[1]})\b", by_cell[index]):
                reason = blank(index, names)
                if reason:
                    return _result(key, False, f"{summary}; the figure of {label} in {code(index)} shows blank "
                                               f"axes: {reason}")
        empty = [n for n, v in ((names[0], train), (names[1], val)) if not v]
        why = (f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty when the notebook finishes" if empty
               else f"none of them draws the values of {label}")
        return _result(key, False, f"{summary}; no figure of {label}: {why}; figures shown: {listing}")

    return [judged("loss_plot", loss, LOSSES, "loss", (1.0,)),
            judged("accuracy_plot", acc, ACCURACIES, "accuracy", (1.0, 100.0, 0.01))]


def judge(run: NotebookRun, evaluation: dict | None, evaluation_error: str | None,
          threshold: float = FASHION_MIN_ACCURACY) -> list[TestResult]:
    nb = run.notebook
    history = clean_history(run.export.get("history"))
    export_errors = [str(e)[:2000] for e in run.export.get("errors", []) or []][:10]

    model_problem = evaluation_error or ("; ".join(export_errors) if evaluation is None else None)
    if evaluation is None and not model_problem:
        model_problem = "no model was exported (the notebook stopped before `model` existed)"

    results = [judge_runs(run)]
    if evaluation is None:
        results += [_result("mlp", False, model_problem), _result("logits", False, model_problem),
                    _result("accuracy", False, model_problem, name=RUBRIC["accuracy"][2].format(threshold=threshold))]
    else:
        name = run.export.get("model_name")
        results += [judge_mlp(evaluation, name if isinstance(name, str) else None, run.export.get("unwrapped")),
                    judge_logits(evaluation, run.export.get("training")),
                    judge_accuracy(evaluation, history["val_accuracies"], threshold, run.export.get("dtype"))]
    results.append(judge_epochs(history))

    found = figures(nb) if nb is not None else []
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"] if nb is not None else []
    history_cells = [i for i in code_cells if any(name in nb.cells[i].source for name in HISTORY_NAMES)]
    results += judge_plots(found, history_cells[0] if history_cells else None, history,
                           {index: n + 1 for n, index in enumerate(code_cells)}, run.lengths,
                           plots.clean_figures(run.export.get("figures")), run.cells_at)
    return results
