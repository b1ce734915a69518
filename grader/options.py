"""The options of one grading, built once by an entry point and passed down whole.

The entry points (`pa3 grade`, `pa3 check`, `pa3 batch`, ``grader.check()``, the Gradescope run) build a
GradeOptions from their flags and the environment; everything below them (grade, its two sections, the
batch's grading processes) reads the object, never the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from grader.budget import BATCH_TIMEOUT, GRADESCOPE_TIMEOUT, NUMPY_BUDGET, effective_deadline
from grader.sandbox.isolation import LEVELS
from test_specs.rubric import FASHION_MIN_ACCURACY

# What --isolation accepts: "auto" (the strongest level that runs here) or a level by name.
ISOLATION_CHOICES = ("auto", *LEVELS)
CELL_TIMEOUT = 600.0      # s: one notebook cell (PA3_CELL_TIMEOUT)
NOTEBOOK_BUDGET = 1800.0  # s: the whole notebook (PA3_NOTEBOOK_BUDGET)
SPEC_FOLDERS = ("public", "hidden")


@dataclass(frozen=True)
class GradeOptions:
    """How to grade one submission.

    ``isolation``: a level of ISOLATION_CHOICES (None: "auto"); ``notebook``: grade Section 2 too;
    ``deadline``: seconds after which nothing more runs (None: derived from the outer limits, see
    grader.budget); ``data_dir``: FashionMNIST for the notebook; ``threshold``: Section 2's passing
    validation accuracy; ``cell_timeout``/``notebook_budget``: seconds for one cell / the whole notebook;
    ``numpy_budget``: seconds for Sections 1.1 and 1.2 together; ``keep_dir``: where the executed notebook
    is kept; ``threads``: the thread budget of the notebook's kernel and evaluator (None: torch's default);
    ``spec_folders``: which spec folders run ("public" alone in a self-check); ``only``: the members whose
    tests run (None: all, see grader.members).
    """

    isolation: str | None = "auto"
    notebook: bool = True
    deadline: float | None = None
    data_dir: Path | None = None
    threshold: float = FASHION_MIN_ACCURACY
    cell_timeout: float = CELL_TIMEOUT
    notebook_budget: float = NOTEBOOK_BUDGET
    numpy_budget: float = NUMPY_BUDGET
    keep_dir: Path | None = None
    threads: int | None = None
    spec_folders: tuple[str, ...] = SPEC_FOLDERS
    only: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Callers pass strings and lists as often as Paths and tuples; hold one form (and stay hashable).
        for name in ("data_dir", "keep_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "spec_folders", tuple(self.spec_folders))
        if self.only is not None:
            object.__setattr__(self, "only", tuple(self.only))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given) -> GradeOptions:
        """Options for an entry point: ``given`` (its flags) and the notebook's settings from the environment:
        PA3_CELL_TIMEOUT, PA3_NOTEBOOK_BUDGET, and PA3_FMNIST_DIR when no ``data_dir`` is given."""
        environ = os.environ if environ is None else environ
        settings = {}
        if environ.get("PA3_CELL_TIMEOUT"):
            settings["cell_timeout"] = float(environ["PA3_CELL_TIMEOUT"])
        if environ.get("PA3_NOTEBOOK_BUDGET"):
            settings["notebook_budget"] = float(environ["PA3_NOTEBOOK_BUDGET"])
        if given.get("data_dir") is None and environ.get("PA3_FMNIST_DIR"):
            given["data_dir"] = Path(environ["PA3_FMNIST_DIR"])
        return cls(**(settings | given))

    @classmethod
    def for_gradescope(cls, root: Path, environ: Mapping[str, str] | None = None) -> GradeOptions:
        """The Gradescope run's options: the deadline derived from Gradescope's timeout (PA3_GRADESCOPE_TIMEOUT,
        PA3_DEADLINE), data from PA3_FMNIST_DIR or ROOT/fmnist, PA3_ISOLATION, the executed notebook kept
        in ROOT/results."""
        environ = os.environ if environ is None else environ
        # Gradescope kills the autograder at its timeout: the grader's deadline is derived from it (540 s of 600).
        outer = float(environ.get("PA3_GRADESCOPE_TIMEOUT") or GRADESCOPE_TIMEOUT)
        requested = float(environ["PA3_DEADLINE"]) if environ.get("PA3_DEADLINE") else None
        data = Path(environ.get("PA3_FMNIST_DIR", root / "fmnist"))
        return cls.from_environment(environ, isolation=environ.get("PA3_ISOLATION", "auto"),
                                    deadline=effective_deadline(requested, outer),
                                    data_dir=data if data.exists() else None, keep_dir=root / "results")

    def to_argv(self) -> list[str]:
        """The `pa3 grade` flags for these options (what pa3 batch's grading processes are started with).

        `pa3 grade` has no flags for the rest, and asking for them here raises ValueError rather than grading
        with something else: ``cell_timeout`` and ``notebook_budget`` come from the grading process's own
        environment (PA3_CELL_TIMEOUT, PA3_NOTEBOOK_BUDGET), ``keep_dir`` follows --results, and
        ``spec_folders``/``only`` belong to the self-check.
        """
        for name in ("cell_timeout", "notebook_budget", "keep_dir", "spec_folders", "only"):
            if getattr(self, name) != _DEFAULTS[name]:
                raise ValueError(f"pa3 grade has no flag for {name}={getattr(self, name)!r}")
        argv = [] if self.notebook else ["--no-notebook"]
        if self.isolation is not None:
            argv += ["--isolation", self.isolation]
        if self.deadline is not None:
            argv += ["--deadline", f"{self.deadline:g}"]
        if self.data_dir is not None:
            argv += ["--data-dir", str(self.data_dir)]
        argv += ["--accuracy-threshold", str(self.threshold), "--section1-budget", f"{self.numpy_budget:g}"]
        if self.threads is not None:
            argv += ["--threads", str(self.threads)]
        return argv


_DEFAULTS = {f.name: f.default for f in fields(GradeOptions)}


@dataclass(frozen=True)
class BatchOptions:
    """What `pa3 batch` gives its gradings: their options, the seconds after which a grading's process is
    killed (its deadline is derived from them), and the --threads setting ("auto", "all" or a number) each
    grading's thread budget is planned from (grader.threads.plan)."""

    grade: GradeOptions = GradeOptions()
    timeout: float = BATCH_TIMEOUT
    threads: str | int | None = "auto"
