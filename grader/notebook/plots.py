"""The figures the kernel recorded (grader/notebook/probe.py), re-checked, and what each one draws.

A loss plot is a figure whose series carry the training and the validation loss per epoch: the values of the
history lists as the notebook left them. Another figure (an Iris curve, a confusion matrix) never stands in,
whatever its cell is called. Where the lists are not there to compare (kept inside a function), two series of
the same length that look like per-epoch curves stand in, and the message says the lists could not be checked.
Everything read here came from the student's kernel: each field is type-checked and bounded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from grader.notebook.probe import MAX_AXES, MAX_FIGURES, MAX_POINTS, MAX_SERIES, MAX_TEXT

KINDS = ("line", "scatter", "bars")
HOWS = ("shown", "saved", "closed")
MAX_EPOCH_CURVE = 1000  # a per-epoch curve of unknown lists has at most this many points
_PRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]")


def _text(value: object) -> str:
    """Student text as a message may show it: a bounded string without control characters."""
    return _PRINTABLE.sub("?", value[:MAX_TEXT]) if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass
class Series:
    kind: str
    label: str
    n: int                      # its true length
    y: list[float]              # its first values (at most MAX_POINTS)


@dataclass
class Figure:
    position: int               # in the kernel's per-cell log
    how: str                    # shown, saved or closed
    file: str | None
    titles: list[str]           # suptitle, then each axes' title and y label
    axes: list[list[Series]]
    images: list[tuple[int, int]] = field(default_factory=list)
    cell: int | None = None     # notebook cell index, when the log position maps to one

    @property
    def series(self) -> list[Series]:
        return [s for axes in self.axes for s in axes]

    def describe(self) -> str:
        """What it draws, in a few words: '2 lines of 8 points ("loss")', 'an image 10x10'."""
        parts = []
        for kind in KINDS:
            found = [s for s in self.series if s.kind == kind]
            if found:
                sizes = sorted({s.n for s in found})
                word = {"line": "line", "scatter": "scatter series", "bars": "bar series"}[kind]
                parts.append(f"{len(found)} {word}{'s' if len(found) > 1 and kind == 'line' else ''} of "
                             f"{'/'.join(map(str, sizes[:3]))} points")
        parts += [f"an image {rows}x{cols}" for rows, cols in self.images[:2]]
        text = ", ".join(parts) or "no data (blank axes)"
        words = [t for t in self.titles if t][:2]
        return text + (f" ({'; '.join(repr(w) for w in words)})" if words else "")


def _series(raw: object) -> Series | None:
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        return None
    n, y = _count(raw.get("n")), raw.get("y")
    if n is None or not isinstance(y, list) or len(y) > MAX_POINTS:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in y):
        return None
    return Series(raw["kind"], _text(raw.get("label")), n, [float(v) for v in y])


def clean_figures(raw: object) -> list[Figure] | None:
    """The figures in the export report, re-checked; None when the report holds no figure record at all."""
    if not isinstance(raw, list):
        return None
    figures = []
    for entry in raw[-MAX_FIGURES:]:
        if not isinstance(entry, dict) or entry.get("how") not in HOWS or _count(entry.get("cell")) is None:
            continue
        axes_raw = entry.get("axes") if isinstance(entry.get("axes"), list) else []
        axes, images, titles, budget = [], [], [_text(entry.get("suptitle"))], MAX_SERIES
        for ax in axes_raw[:MAX_AXES]:
            if not isinstance(ax, dict):
                continue
            titles += [_text(ax.get("title")), _text(ax.get("ylabel"))]
            raw_series = ax.get("series") if isinstance(ax.get("series"), list) else []
            series = [s for s in (_series(r) for r in raw_series[:MAX_SERIES]) if s is not None][:max(budget, 0)]
            budget -= len(series)
            axes.append(series)
            for shape in (ax.get("images") if isinstance(ax.get("images"), list) else [])[:MAX_AXES]:
                if isinstance(shape, list) and len(shape) == 2 and all(_count(s) is not None for s in shape):
                    images.append((shape[0], shape[1]))
        file = entry.get("file")
        figures.append(Figure(entry["cell"], entry["how"], _text(file) if isinstance(file, str) else None,
                              titles, axes, images))
    return figures


def _close(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-4 * max(1.0, abs(b))


def carries(series: Series, values: list[float], scales: tuple[float, ...] = (1.0,)) -> bool:
    """Whether ``series`` draws ``values`` in order, at one of ``scales`` (an accuracy list of fractions may be
    drawn as percentages, and the other way round): all of them, or the first ones (at least 2) when the
    figure was drawn before later epochs were appended to the same lists."""
    if not values or not 2 <= series.n <= len(values) or len(series.y) != min(series.n, MAX_POINTS):
        return False
    return any(all(_close(y, v * scale) for y, v in zip(series.y, values)) for scale in scales)


def showing(figure: Figure, train: list[float], val: list[float], scales: tuple[float, ...]) -> tuple[bool, bool]:
    """(whether ``figure`` draws ``train``, whether it draws ``val``); both only from two different series."""
    series = figure.series
    train_at = [i for i, s in enumerate(series) if carries(s, train, scales)]
    val_at = [i for i, s in enumerate(series) if carries(s, val, scales)]
    if any(t != v for t in train_at for v in val_at):
        return True, True
    return bool(train_at) and not val_at, bool(val_at) and not train_at


def curve_pairs(figure: Figure, what: str) -> int | None:
    """Without the lists: the length of two series in one axes that look like per-epoch curves of ``what``
    ("loss" or "accuracy"), or None. A loss is never negative; an accuracy is a fraction or a percentage;
    the axes' words (title, label, legend) decide between the two where they say, the trend where not."""
    for index, axes in enumerate(figure.axes):
        lines = [s for s in axes if s.kind in ("line", "scatter") and 2 <= s.n <= MAX_EPOCH_CURVE
                 and len(s.y) == s.n and all(math.isfinite(v) for v in s.y)]
        words = " ".join([figure.titles[0], *figure.titles[1 + 2 * index:3 + 2 * index],
                          *(s.label for s in axes)]).lower()
        for i, first in enumerate(lines):
            for second in lines[i + 1:]:
                if first.n != second.n:
                    continue
                values = first.y + second.y
                says_loss, says_accuracy = "loss" in words, "acc" in words
                if what == "loss":
                    fits = min(values) >= 0 and (says_loss or (not says_accuracy and first.y[-1] < first.y[0]))
                else:
                    fits = (min(values) >= 0 and max(values) <= 100
                            and (says_accuracy or (not says_loss and first.y[-1] > first.y[0])))
                if fits:
                    return first.n
    return None
