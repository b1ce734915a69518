"""Run the graded specs with pytest in this (trusted) process and collect TestResults."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import test_specs
from grader.plugin import ResultsPlugin
from grader.results import TestResult
from grader.sandbox.client import Sandbox
from test_specs.rubric import SECTION_POINTS

SPEC_DIR = Path(test_specs.__file__).resolve().parent


@dataclass
class SpecContext:
    """What the specs see (``request.config.stash[grader.plugin.CONTEXT]``): the sandbox and the submission's
    sources, never its code objects."""

    sandbox: Sandbox
    sources: dict[str, str]
    problems: dict[str, str]
    seed: str
    iris_csv: Path
    extra: dict = field(default_factory=dict)


def run_specs(context: SpecContext, folders: list[Path], sections: tuple[str, ...],
              deadline_at: float | None = None, only: tuple[str, ...] | None = None) -> list[TestResult]:
    """Results of every spec under ``folders`` (of the members in ``only``, when given); collection errors and
    missing points are failing tests."""
    plugin = ResultsPlugin(context, deadline_at, only)
    args = [*map(str, folders), "-c", os.devnull, "--rootdir", str(SPEC_DIR), "-p", "no:cacheprovider",
            "-p", "no:randomly", "--import-mode=importlib", "-q", "--no-header", "-o", "python_files=test_*.py"]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        exit_code = pytest.main(args, plugins=[plugin])
    results = plugin.collected()
    for nodeid, error in plugin.collect_errors:
        results.append(TestResult(name=f"collection error in {nodeid}", number="0", score=0, max_score=0,
                                  status="failed", output=f"the grader could not load these tests:\n{error}"))
    if not sections and exit_code not in (0, 1) and not (exit_code == 5 and only is not None):
        # no rubric to count missing points against (the self-check): say the run broke, never "all passed"
        results.append(TestResult(name="the tests could not run", number="0", score=0, max_score=0, status="failed",
                                  output=f"pytest stopped with exit code {exit_code}:\n{sink.getvalue()[-3000:]}"))
    for section in sections:
        got = sum(t.max_score for t in results if t.section == section)
        missing = SECTION_POINTS[section] - got
        if missing > 1e-9:
            detail = sink.getvalue()[-3000:] if exit_code not in (0, 1) else ""
            results.append(TestResult(
                name=f"Section {section}: {missing:g} points of tests did not run", number=f"{section}.999",
                score=0, max_score=missing, status="failed",
                output=f"tests worth {missing:g} points could not be collected or run "
                       f"(pytest exit {exit_code}).\n{detail}"))
    return results
