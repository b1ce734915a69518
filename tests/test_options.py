"""GradeOptions as the entry points build it and pass it on: flags, environment, `pa3 grade` argv, pickling;
and GradeResult's dict round trip (what pa3 batch reads back from a grading's record)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from grader.budget import GRADESCOPE_TIMEOUT, NUMPY_BUDGET, effective_deadline
from grader.cli import build_parser
from grader.members import select
from grader.options import CELL_TIMEOUT, ISOLATION_CHOICES, NOTEBOOK_BUDGET, BatchOptions, GradeOptions
from grader.results import GradeResult, TestResult
from grader.sandbox.isolation import LEVELS
from grader.selfcheck import options_for


def test_defaults_are_a_full_grading():
    options = GradeOptions()
    assert (options.isolation, options.notebook, options.deadline, options.data_dir) == ("auto", True, None, None)
    assert (options.cell_timeout, options.notebook_budget, options.numpy_budget) == (CELL_TIMEOUT, NOTEBOOK_BUDGET,
                                                                                     NUMPY_BUDGET)
    assert options.spec_folders == ("public", "hidden") and options.only is None and options.threshold == 0.82


def test_paths_and_sequences_are_held_in_one_form():
    options = GradeOptions(data_dir="/data", keep_dir="keep", spec_folders=["public"], only=["relu"])
    assert options.data_dir == Path("/data") and options.keep_dir == Path("keep")
    assert options.spec_folders == ("public",) and options.only == ("relu",)
    hash(options)  # frozen: safe to share between gradings and threads


def test_every_isolation_parser_offers_the_same_choices():
    assert ISOLATION_CHOICES == ("auto", *LEVELS)
    parser = build_parser()
    for argv in (["grade", "x"], ["batch", "x", "--out", "o"], ["check"]):
        for level in ISOLATION_CHOICES:
            assert parser.parse_args([*argv, "--isolation", level]).isolation == level
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--isolation", "chroot"])


def test_to_argv_is_what_pa3_grade_parses_back():
    options = GradeOptions(isolation="user", notebook=False, deadline=12.5, data_dir=Path("/data/fmnist"),
                           threshold=0.5, numpy_budget=30, threads=3)
    args = build_parser().parse_args(["grade", "sub", *options.to_argv()])
    assert (args.isolation, args.no_notebook, args.deadline) == ("user", True, 12.5)
    assert args.data_dir == Path("/data/fmnist")
    assert (args.accuracy_threshold, args.section1_budget, args.threads) == (0.5, 30, 3)
    defaults = build_parser().parse_args(["grade", "sub", *GradeOptions().to_argv()])
    assert (defaults.isolation, defaults.no_notebook, defaults.deadline, defaults.data_dir, defaults.threads) == (
        "auto", False, None, None, None)


@pytest.mark.parametrize("field, value", [("only", ("relu",)), ("spec_folders", ("public",)), ("keep_dir", Path("k")),
                                          ("cell_timeout", 5.0), ("notebook_budget", 50.0)])
def test_to_argv_refuses_what_pa3_grade_cannot_take(field, value):
    with pytest.raises(ValueError, match=field):
        GradeOptions(**{field: value}).to_argv()


def test_from_environment_reads_the_notebook_settings():
    environ = {"PA3_CELL_TIMEOUT": "5", "PA3_NOTEBOOK_BUDGET": "50", "PA3_FMNIST_DIR": "/env/fmnist"}
    options = GradeOptions.from_environment(environ, notebook=False)
    assert (options.cell_timeout, options.notebook_budget, options.data_dir) == (5, 50, Path("/env/fmnist"))
    assert options.notebook is False
    assert GradeOptions.from_environment(environ, data_dir=Path("/given")).data_dir == Path("/given")  # a flag wins
    assert GradeOptions.from_environment({}) == GradeOptions()


def test_gradescope_options(tmp_path):
    options = GradeOptions.for_gradescope(tmp_path, {})
    assert options.deadline == effective_deadline(None, GRADESCOPE_TIMEOUT) and options.isolation == "auto"
    assert options.data_dir is None and options.keep_dir == tmp_path / "results"
    (tmp_path / "fmnist").mkdir()
    assert GradeOptions.for_gradescope(tmp_path, {}).data_dir == tmp_path / "fmnist"
    options = GradeOptions.for_gradescope(tmp_path, {"PA3_GRADESCOPE_TIMEOUT": "1200", "PA3_DEADLINE": "100",
                                                     "PA3_ISOLATION": "process", "PA3_FMNIST_DIR": "/nowhere"})
    assert (options.deadline, options.isolation) == (100, "process")
    # a PA3_FMNIST_DIR that is not there is still the one tried (and its failure said), as before
    assert options.data_dir == Path("/nowhere")


def test_self_check_options(tmp_path):
    options = options_for(tmp_path, select(["ReLU.forward", "notebook"]), environ={})
    assert options.spec_folders == ("public",) and options.only == ("ReLU.forward",)
    assert options.notebook and options.data_dir == tmp_path / "data"
    assert options_for(tmp_path, notebook=True, environ={"PA3_DATA_DIR": "/abs"}).data_dir == Path("/abs")
    assert options_for(tmp_path, environ={}).notebook is False and options_for(tmp_path, environ={}).only is None


def test_batch_options_travel_to_workers():
    options = BatchOptions(GradeOptions(notebook=False, data_dir=Path("/d")), timeout=60, threads="all")
    assert pickle.loads(pickle.dumps(options)) == options  # Dask pickles them to its workers
    assert BatchOptions().threads == "auto"


def test_grade_result_round_trips_through_its_dict():
    result = GradeResult(tests=[TestResult("ReLU.forward: values", "1.1.3", 0.5, 1, "failed", "out", "hidden",
                                           ["a"]), TestResult("t", "2.1", 2, 2, "passed")],
                         execution_time=1.5, isolation="user: uid 1", seed="ab", output="o", notes=["n"],
                         hand_graded=["h"], extra={"intake": "ok", "threads": {"budget": 2}})
    record = json.loads(json.dumps(result.to_dict()))
    assert record["score"] == 2.5 and record["max_score"] == 3
    assert GradeResult.from_dict(record) == result


def test_section_2_gets_its_options(monkeypatch, synth_root, tmp_path):
    """grade() hands Section 2 the options whole: the kernel's thread budget, the cell timeout and notebook
    budget the run is given (the kernel itself is not started here)."""
    from grader import REFERENCE_DIR
    from grader.grade import grade
    from grader.notebook import grade as notebook_grade

    seen = {}

    class Kernel:
        def __init__(self, level, work, data, export, scratch, threads=None):
            seen.update(level=level, threads=threads)

    def execute(nb, kernel, cell_timeout, budget):
        seen.update(cell_timeout=cell_timeout, budget=budget)
        raise RuntimeError("stop here")

    monkeypatch.setattr(notebook_grade, "SandboxedKernel", Kernel)
    monkeypatch.setattr(notebook_grade, "execute", execute)
    options = GradeOptions(data_dir=synth_root, cell_timeout=7, notebook_budget=77, threads=2, threshold=0.5,
                           keep_dir=tmp_path)
    result = grade(REFERENCE_DIR, options)
    section2 = [t for t in result.tests if t.number.startswith("2.")]
    assert section2 and all("RuntimeError: stop here" in t.output for t in section2)
    assert seen["threads"] == 2 and seen["cell_timeout"] == 7 and 0 < seen["budget"] <= 77
    assert seen["level"] == result.isolation.split(":", 1)[0]  # the level grade() resolved, not "auto"
    assert result.extra["threads"]["budget"] == 2
