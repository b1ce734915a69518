"""What the notebook did, recorded inside its kernel (the untrusted side) for the judge.

This file's text is run by the grader's set-up cell before the student's cells, as a module named
``_pa3_probe`` (grader/notebook/export.py); nothing here runs in the grader. It records:

- after every cell, a digest of its source and the lengths of the four history lists (a plot drawn before
  the lists were filled is known to show blank axes);
- every matplotlib figure as it is shown (displayed in the outputs), saved (``savefig``) or closed: each
  series' y values (lines, scatter points, bar heights) and its images, so a plot is judged by what it draws
  (seaborn and pandas draw through the same artists);
- the last backward pass (the names along its autograd graph) and what ``F.cross_entropy`` was given while
  training, so 2.3 reads the loss actually used;
- calls of ``torch.compile``, which runs with its eager backend here (no C++ compiler is needed, and
  inductor's compilation would take minutes of a grading's time).

Everything is plain, bounded data, and the judge re-checks all of it (the kernel is the student's). Every
hook swallows its own errors: recording never changes what the notebook does.
"""

from __future__ import annotations

import functools
import hashlib

MAX_LOG = 10_000        # cells
MAX_FIGURES = 64        # figures kept in all (the oldest go first)
MAX_PER_CELL = 8        # figures kept per cell (a live plot redrawn every epoch keeps its last ones)
MAX_AXES = 8            # per figure
MAX_SERIES = 16         # per figure
MAX_POINTS = 500        # values kept per series (its true length is kept too)
MAX_TEXT = 80           # characters of a title, label or file name
MAX_NODES = 48          # autograd nodes recorded from the last backward's root
MAX_VALUES = 100_000    # values written in all (about 2 MB of JSON); older figures beyond it keep their sizes only

log: list = []
figures: list = []
dropped = [0]
training = {"backward_calls": 0, "backward": None, "compiled": 0,
            "cross_entropy": {"calls": 0, "probabilities": 0, "last_probabilities": None}}
_seen: set = set()      # (cell, id(figure)) already recorded
_saving = [0]


def _text(value) -> str:
    try:
        return str(value)[:MAX_TEXT]
    except Exception:
        return ""


def _values(data) -> tuple[int, list]:
    """(true length, the first MAX_POINTS values as floats; [] when they are not numbers)."""
    import numpy as np

    try:
        n = len(data)
    except Exception:
        return 0, []
    try:
        head = np.asarray(data[:MAX_POINTS], dtype=float).reshape(-1)
        return n, [float(v) for v in head[:MAX_POINTS]]
    except Exception:
        return n, []


def _axes(ax, budget: list) -> dict:
    series = []

    def add(kind, label, data):
        if budget[0] <= 0:
            return
        budget[0] -= 1
        n, y = _values(data)
        series.append({"kind": kind, "label": _text(label), "n": n, "y": y})

    for line in ax.get_lines():
        add("line", line.get_label(), line.get_ydata(orig=False))
    for container in getattr(ax, "containers", []):
        if type(container).__name__ == "BarContainer":
            horizontal = getattr(container, "orientation", "vertical") == "horizontal"
            add("bars", container.get_label(),
                [p.get_width() if horizontal else p.get_height() for p in container.patches[:MAX_POINTS]])
    images = []
    for image in ax.images[:MAX_AXES]:
        shape = getattr(image.get_array(), "shape", ())
        images.append([int(s) for s in shape[:2]])
    for collection in ax.collections[:MAX_SERIES]:
        kind = type(collection).__name__
        if kind == "PathCollection":  # scatter
            offsets = collection.get_offsets()
            if len(offsets):
                add("scatter", collection.get_label(), [row[1] for row in offsets[:MAX_POINTS]])
        elif kind == "QuadMesh":  # pcolormesh, seaborn's heatmap
            array = collection.get_array()
            shape = getattr(array, "shape", ())
            images.append([int(s) for s in shape[:2]] if len(shape) >= 2 else [int(getattr(array, "size", 0)), 1])
    return {"title": _text(ax.get_title()), "xlabel": _text(ax.get_xlabel()), "ylabel": _text(ax.get_ylabel()),
            "series": series, "images": images}


def record(figure, how: str, file=None) -> None:
    """Note ``figure``'s data, once per cell: shown (in the outputs), saved or closed."""
    try:
        cell = len(log)
        key = (cell, id(figure))
        if how == "closed" and any(seen == id(figure) for _, seen in _seen):
            return  # shown or saved already (the inline backend closes what it showed)
        if how == "shown" and key in _seen:
            for entry in reversed(figures):  # saved, then shown: one entry, shown
                if entry["cell"] == cell and entry.get("_id") == id(figure):
                    entry["how"] = "shown"
                    return
        if len(_seen) > 100 * MAX_FIGURES:
            _seen.clear()
        _seen.add(key)
        budget = [MAX_SERIES]
        suptitle = getattr(figure, "_suptitle", None)
        entry = {"cell": cell, "how": how, "_id": id(figure),
                 "file": _text(file) if isinstance(file, str) or hasattr(file, "__fspath__") else None,
                 "suptitle": _text(suptitle.get_text()) if suptitle is not None else "",
                 "axes": [_axes(ax, budget) for ax in figure.get_axes()[:MAX_AXES]]}
        same_cell = [e for e in figures if e["cell"] == cell]
        if len(same_cell) >= MAX_PER_CELL:
            figures.remove(same_cell[0])
            dropped[0] += 1
        figures.append(entry)
        while len(figures) > MAX_FIGURES:
            figures.pop(0)
            dropped[0] += 1
    except Exception:
        pass


def _install_matplotlib() -> None:
    from matplotlib import _pylab_helpers, backend_bases, figure

    print_figure = backend_bases.FigureCanvasBase.print_figure
    savefig = figure.Figure.savefig
    destroy, destroy_all = _pylab_helpers.Gcf.destroy, _pylab_helpers.Gcf.destroy_all

    @functools.wraps(print_figure)
    def printing(self, *args, **kwargs):
        out = print_figure(self, *args, **kwargs)
        if not _saving[0]:  # IPython displays a figure through print_figure: it is in the outputs
            record(self.figure, "shown")
        return out

    @functools.wraps(savefig)
    def saving(self, fname, *args, **kwargs):
        _saving[0] += 1
        try:
            out = savefig(self, fname, *args, **kwargs)
        finally:
            _saving[0] -= 1
        record(self, "saved", fname)
        return out

    def closing(cls, num):
        try:
            manager = num if hasattr(num, "canvas") else cls.figs.get(num)
            if manager is not None:
                record(manager.canvas.figure, "closed")
        except Exception:
            pass
        return destroy(num)

    def closing_all(cls):
        try:
            for manager in list(cls.figs.values()):
                record(manager.canvas.figure, "closed")
        except Exception:
            pass
        return destroy_all()

    backend_bases.FigureCanvasBase.print_figure = printing
    figure.Figure.savefig = saving
    _pylab_helpers.Gcf.destroy = classmethod(closing)
    _pylab_helpers.Gcf.destroy_all = classmethod(closing_all)


def _graph(root) -> dict:
    """The first MAX_NODES nodes of ``root``'s autograd graph, breadth first: [name, [child indices]]."""
    nodes, index, queue = [], {}, [root.grad_fn]
    index[id(root.grad_fn)] = 0
    while queue and len(nodes) < MAX_NODES:
        node = queue.pop(0)
        children = []
        for child, _ in getattr(node, "next_functions", ()) or ():
            if child is None:
                continue
            if id(child) not in index:
                if len(index) >= MAX_NODES:
                    continue
                index[id(child)] = len(index)
                queue.append(child)
            children.append(index[id(child)])
        nodes.append([type(node).__name__[:MAX_TEXT], children])
    return {"nodes": nodes, "shape": [int(s) for s in getattr(root, "shape", ())][:4]}


def _install_torch() -> None:
    import torch
    import torch.nn.functional as F

    backward, cross_entropy = torch.autograd.backward, F.cross_entropy
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)

    @functools.wraps(backward)
    def backward_seen(tensors, *args, **kwargs):
        try:
            root = tensors if isinstance(tensors, torch.Tensor) else next(iter(tensors), None)
            if isinstance(root, torch.Tensor) and root.grad_fn is not None:
                training["backward_calls"] += 1
                training["backward"] = _graph(root)
        except Exception:
            pass
        return backward(tensors, *args, **kwargs)

    @functools.wraps(cross_entropy)
    def cross_entropy_seen(input, target, *args, **kwargs):
        try:
            if (isinstance(input, torch.Tensor) and input.requires_grad and torch.is_grad_enabled()
                    and input.dim() >= 1 and not compiling()):
                x = input.detach().float()
                rows = x.sum(dim=1 if x.dim() > 1 else 0)
                probabilities = bool((x >= 0).all()) and bool(((rows - 1).abs() <= 1e-3).all())
                seen = training["cross_entropy"]
                seen["calls"] += 1
                seen["probabilities"] += int(probabilities)
                seen["last_probabilities"] = probabilities
        except Exception:
            pass
        return cross_entropy(input, target, *args, **kwargs)

    torch.autograd.backward = backward_seen
    F.cross_entropy = cross_entropy_seen

    compile_ = getattr(torch, "compile", None)
    if compile_ is None:
        return

    @functools.wraps(compile_)
    def compile_eager(model=None, *args, **kwargs):
        # torch.compile with its eager backend: the same computation, traced by dynamo but without generating
        # and compiling C++ (a grading machine may have no compiler, and inductor takes minutes on a busy CPU).
        training["compiled"] += 1
        kwargs.pop("mode", None)
        kwargs.pop("options", None)
        kwargs["backend"] = "eager"
        return compile_(model, *args, **kwargs)

    torch.compile = compile_eager


def install(shell, names: tuple[str, ...]) -> None:
    """Register the per-cell log on ``shell`` (IPython) and the matplotlib and torch hooks, where importable."""

    def after_cell(result):
        try:
            ns = shell.user_ns
            lengths = {}
            for name in names:
                try:
                    lengths[name] = len(ns[name]) if name in ns else None
                except Exception:
                    lengths[name] = None
            if len(log) < MAX_LOG:
                source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
                log.append([hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()[:16], lengths])
        except Exception:
            pass

    shell.events.register("post_run_cell", after_cell)
    for hooks in (_install_matplotlib, _install_torch):
        try:
            hooks()
        except Exception:
            pass


def report() -> dict:
    """The plain data the export cell writes: the figures without their private ids, newest first within
    MAX_VALUES (an older figure beyond it keeps only its series' lengths)."""
    shown, budget = [], MAX_VALUES
    for entry in reversed(figures):
        entry = {k: v for k, v in entry.items() if k != "_id"}
        values = sum(len(s["y"]) for ax in entry["axes"] for s in ax["series"])
        if values > budget:
            entry["axes"] = [dict(ax, series=[dict(s, y=[]) for s in ax["series"]]) for ax in entry["axes"]]
        budget -= min(values, budget)
        shown.insert(0, entry)
    return {"lengths_after": list(log), "figures": shown, "figures_dropped": dropped[0], "training": training}
