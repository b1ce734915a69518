"""Section 2's judge, item by item, on plain data; the export cell and Colab handling without a notebook run."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from grader.notebook import judge
from grader.notebook.colab import colab_notes, skipped_reason
from grader.notebook.export import cell_digest, export_cell_source, lengths_after, read_export
from grader.notebook.run import NotebookRun, with_hints

EVALUATION = {"accuracy": 0.85, "n": 1770, "input": "images", "parameterised": ["Linear", "Linear"],
              "convolution": False, "softmax_output": False, "output_shape": [1770, 10]}
FULL = {"train_losses": [1.0] * 8, "val_losses": [1.0] * 8, "train_accuracies": [0.8] * 8,
        "val_accuracies": [0.84] * 8}


@pytest.mark.parametrize("values, unit", [([0.5, 0.84], "fraction"), ([50.0, 84.2], "percent"),
                                          ([0.9, 1.0], "fraction"), ([], None), ([12.0, 1843.0], None),
                                          ([-0.1, 0.5], None), ([float("nan"), 84.0], "percent")])
def test_accuracy_unit(values, unit):
    assert judge.accuracy_unit(values) == unit


def test_percent_history_is_compared_in_the_same_unit():
    same = judge.judge_accuracy(EVALUATION, [70.0, 84.5], 0.82)
    assert same.status == "passed" and "read as percentages" in same.output and "far above" not in same.output
    inflated = judge.judge_accuracy(EVALUATION, [95.0, 97.0], 0.82)
    assert "far above the measured 0.850" in inflated.output and inflated.status == "passed"  # measured decides


def test_accuracy_names_the_input_layout():
    flat = judge.judge_accuracy(dict(EVALUATION, input="features", accuracy=0.7), [0.9], 0.82)
    assert flat.status == "failed" and "(N, 784)" in flat.output and "Normalize" in flat.output


def test_epochs_judges_lengths_only():
    inflated = dict(FULL, val_accuracies=[0.99] * 8)
    assert judge.judge_epochs(judge.clean_history(inflated)).status == "passed"
    short = judge.judge_epochs(judge.clean_history(dict(FULL, val_losses=[1.0] * 3)))
    assert short.status == "failed" and "val_losses: 3" in short.output and "(found 3)" in short.name
    missing = judge.judge_epochs(judge.clean_history({k: v for k, v in FULL.items() if k != "train_losses"}))
    assert missing.status == "failed" and "train_losses: missing" in missing.output


def test_clean_history_refuses_what_is_not_a_list_of_numbers():
    hostile = {"train_losses": "1,2,3", "val_losses": [1, "x"], "train_accuracies": [True] * 8,
               "val_accuracies": {"a": 1}}
    assert judge.clean_history(hostile) == dict.fromkeys(FULL)
    assert judge.clean_history(["not", "a", "dict"]) == dict.fromkeys(FULL)


def test_plots_count_only_over_filled_lists():
    found = [(5, "plt.plot(train_losses)\nplt.plot(val_losses)"), (6, "plt.plot(train_accuracies)")]
    history = judge.clean_history(FULL)
    ok = judge.judge_plots(found, 4, history)
    assert [r.status for r in ok] == ["passed", "passed"]
    empty = judge.judge_plots(found, 4, dict(history, val_losses=[]))
    assert empty[0].status == "failed" and "val_losses is missing or empty" in empty[0].output
    assert empty[1].status == "passed"
    before = judge.judge_plots(found, 4, history, {5: 3, 6: 4}, lengths={5: dict.fromkeys(FULL, 0)})
    assert before[0].status == "failed" and "still empty when code cell 3 runs" in before[0].output


def test_unattributed_figures_need_both_lists_and_come_after_the_history():
    found = [(1, "plt.plot(iris_loss)"), (7, "show(history)"), (8, "show(history)")]
    history = judge.clean_history(FULL)
    assert [r.status for r in judge.judge_plots(found, 4, history)] == ["passed", "passed"]
    assert [r.status for r in judge.judge_plots(found[:1], 4, history)] == ["failed", "failed"]
    blank = judge.judge_plots(found, 4, dict(history, train_accuracies=None))
    assert [r.status for r in blank] == ["passed", "failed"]


def test_runs_reports_colab_notes_without_failing():
    run = NotebookRun(notes=["code cell 1 is Colab-only in part, no points lost: ..."],
                      export={"trained_on": "cuda:0"})
    result = judge.judge_runs(run)
    assert result.status == "passed" and "code cell 1 is Colab-only" in result.output
    assert "was on cuda:0 and was moved to the CPU" in result.output


@pytest.mark.parametrize("line", ["!pip install -q torch", "  %pip install tqdm==4.0", "!python -m pip install x",
                                  "!apt-get install -y foo", "!wget http://example.org/x.gz", "%cd /content/drive",
                                  "!git clone https://example.org/repo", "%tensorflow_version 2.x"])
def test_colab_only_lines_are_skipped(line):
    assert skipped_reason(line)


@pytest.mark.parametrize("line", ["import pip", "x = '!pip install'", "%matplotlib inline", "!ls", "print('%cd')"])
def test_ordinary_lines_run(line):
    assert skipped_reason(line) is None


def test_colab_notes_number_cells_and_check_installs():
    notes = colab_notes([(1, "from google.colab import drive\ndrive.mount('/content/drive')"), (2, "x = 1"),
                         (3, "!pip install numpy not-a-real-package-pa3")])
    assert len(notes) == 2 and notes[0].startswith("code cell 1") and notes[1].startswith("code cell 3")
    assert "not-a-real-package-pa3 NOT installed" in notes[1]


def test_hints_follow_the_tracebacks_they_explain():
    assert "grading has no network" in with_hints("URLError: <urlopen error [Errno -3] Temporary failure>")
    assert "grading runs on the CPU" in with_hints("RuntimeError: No CUDA GPUs are available")
    assert with_hints("ValueError: my own bug") == "ValueError: my own bug"


def test_lengths_are_matched_to_cells_by_digest_in_order():
    cells = [(1, "a = 1"), (2, ""), (3, "plot()"), (4, "train()")]
    log = [[cell_digest("a = 1"), dict.fromkeys(FULL, 0)], ["garbage"],
           [cell_digest("plot()"), dict.fromkeys(FULL, 0)], [cell_digest("train()"), dict.fromkeys(FULL, 8)]]
    found = lengths_after({"lengths_after": log}, cells)
    assert set(found) == {1, 3, 4} and found[3]["train_losses"] == 0 and found[4]["val_losses"] == 8
    assert lengths_after({"lengths_after": "nonsense"}, cells) == {}


class OnAnotherDevice(nn.Module):
    """Fails as a CUDA model fed CPU tensors does, until it is moved (``_apply`` is what ``.to`` calls)."""

    def __init__(self, flat: bool = False):
        super().__init__()
        self.flat, self.moved = flat, False
        self.fc = nn.Linear(784, 10)

    def _apply(self, fn, *args, **kwargs):
        self.moved = True
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x):
        if not self.moved:
            raise RuntimeError("Expected all tensors to be on the same device, but found cuda:0 and cpu")
        if not self.flat and x.dim() != 4:
            raise RuntimeError("expects images")
        return self.fc(x.reshape(x.shape[0], -1) if not self.flat else x)


def run_export(tmp_path, model) -> dict:
    namespace = {"model": model, **{k: list(v) for k, v in FULL.items()}}
    exec(compile(export_cell_source(str(tmp_path)), "export", "exec"), namespace)  # noqa: S102 - our own cell
    return read_export(tmp_path)


def test_export_moves_the_model_to_the_cpu_before_tracing(tmp_path):
    report = run_export(tmp_path, OnAnotherDevice())
    assert report["model"] == "model.pt" and report["input"] == "images", report["errors"]
    assert report["history"]["val_accuracies"] == [0.84] * 8
    loaded = torch.jit.load(str(tmp_path / "model.pt"), map_location="cpu")
    assert loaded(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_export_falls_back_to_784_features_and_reports_both_attempts(tmp_path):
    flat = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    report = run_export(tmp_path, flat)
    assert report["input"] == "features" and "input (N, 1, 28, 28)" in report["attempts"][0]
    (tmp_path / "neither").mkdir()
    neither = run_export(tmp_path / "neither", nn.Linear(100, 10))
    assert neither["model"] is None and "accepts neither input layout" in neither["errors"][0]
    assert "(N, 1, 28, 28)" in neither["errors"][0] and "(N, 784)" in neither["errors"][0]


def test_export_grades_the_only_network_when_there_is_no_model_variable(tmp_path):
    namespace = {"net": nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), "criterion": nn.CrossEntropyLoss(), **FULL}
    exec(compile(export_cell_source(str(tmp_path)), "export", "exec"), namespace)  # noqa: S102 - our own cell
    report = read_export(tmp_path)
    assert report["model"] == "model.pt" and report["model_name"] == "net"
    assert "graded `net`" in judge.judge_mlp(EVALUATION, "net").output
    (tmp_path / "two").mkdir()
    namespace = {"a": nn.Linear(784, 10), "b": nn.Linear(784, 10), **FULL}
    exec(compile(export_cell_source(str(tmp_path / "two")), "export", "exec"), namespace)  # noqa: S102
    assert read_export(tmp_path / "two")["model"] is None  # two candidates: no guessing


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_export_of_a_model_trained_on_cuda(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).cuda()
    report = run_export(tmp_path, model)
    assert report["model"] == "model.pt" and report["trained_on"].startswith("cuda")


def test_read_export_survives_hostile_reports(tmp_path):
    (tmp_path / "history.json").write_text("[" * 100_000)
    assert read_export(tmp_path)["model"] is None
    (tmp_path / "history.json").write_text(json.dumps([1, 2]))
    assert read_export(tmp_path)["errors"] == ["malformed export report"]


def test_student_bundle_ships_the_colab_stand_in(tmp_path):
    """`pa3 check --notebook` on a Colab notebook needs google.colab's stand-in in the installed package."""
    import subprocess
    import sys
    import zipfile

    from grader.builders.student_bundle import build

    build(tmp_path / "bundle")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "wheel"), str(tmp_path / "bundle" / "selfcheck")], check=True, timeout=300)
    names = zipfile.ZipFile(next((tmp_path / "wheel").glob("*.whl"))).namelist()
    assert "pa3_selfcheck/sandbox/runtime/colab/google/colab/drive.py" in names


# ---- the rubric and figure attribution, on plain data ---------------------------------------------------

def test_section_2_items_add_up_to_the_sections_points():
    from test_specs.rubric import NOTEBOOK_ITEMS, SECTION_POINTS

    assert sum(points for _, points, _ in NOTEBOOK_ITEMS.values()) == SECTION_POINTS["2"]
    numbers = [number for number, _, _ in NOTEBOOK_ITEMS.values()]
    assert len(set(numbers)) == len(numbers) and all(n.startswith("2.") for n in numbers)
    assert [t.number for t in judge.all_failed("x")] == numbers  # one result per item, in rubric order


def _notebook(*cells):
    """Code cells given as (source, outputs) pairs."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, outputs=[nbformat.from_dict(o) for o in outputs])
                for source, outputs in cells]
    return nb


PNG = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}, "metadata": {}}
ERROR = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}


def test_figures_are_the_image_outputs_of_cells_that_did_not_raise():
    nb = _notebook(("plt.plot(x)", [PNG]), ("print(1)", [{"output_type": "stream", "name": "stdout", "text": "1"}]),
                   ("plt.plot(train_losses); raise ValueError", [PNG, ERROR]), ("plt.plot(val_losses)", [PNG]))
    assert judge.figures(nb) == [(0, "plt.plot(x)"), (3, "plt.plot(val_losses)")]


@pytest.mark.parametrize("found, first_history, expected", [
    # named lists decide, wherever they are
    ([(2, "plt.plot(train_losses)"), (3, "plt.plot(val_accuracies)")], 1, ([2], [3])),
    # one cell plotting both counts for both
    ([(4, "plt.plot(train_losses); plt.plot(train_accuracies)")], 1, ([4], [4])),
    # a helper: figures after the history first appears, in order (loss first)
    ([(1, "plot_iris()"), (5, "show(h)"), (6, "show(h, 'acc')")], 3, ([5], [6])),
    # a Part 1 figure before the history never stands in
    ([(1, "plot_iris()")], 3, ([], [])),
    # no history anywhere: nothing to stand in for
    ([(5, "show(h)")], None, ([], [])),
    # a named loss plot and a helper's figure: the helper's stands in for the accuracies only
    ([(4, "plt.plot(val_losses)"), (5, "show(h)")], 2, ([4], [5])),
])
def test_figures_are_attributed_to_the_lists_they_show(found, first_history, expected):
    assert judge.attribute_figures(found, first_history) == expected
