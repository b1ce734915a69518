"""Section 2's judge, item by item, on plain data; the export cell and Colab handling without a notebook run."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from grader.notebook import judge
from grader.notebook.colab import colab_notes, skipped_reason
from grader.notebook.export import MODEL_FILES, cell_digest, export_cell_source, lengths_after, read_export
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


def load_exported(folder, report):
    """The exported model (our own test's), as the sandboxed evaluator loads it: torch.export or TorchScript."""
    if report["format"] == "export":
        return torch.export.load(str(folder / report["model"])).module()
    return torch.jit.load(str(folder / report["model"]), map_location="cpu")


def run_export(tmp_path, model) -> dict:
    namespace = {"model": model, **{k: list(v) for k, v in FULL.items()}}
    exec(compile(export_cell_source(str(tmp_path)), "export", "exec"), namespace)  # noqa: S102 - our own cell
    return read_export(tmp_path)


def test_export_moves_the_model_to_the_cpu_before_tracing(tmp_path):
    report = run_export(tmp_path, OnAnotherDevice())
    assert report["model"] in MODEL_FILES.values() and report["input"] == "images", report["errors"]
    assert report["history"]["val_accuracies"] == [0.84] * 8
    loaded = load_exported(tmp_path, report)
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
    assert report["model"] in MODEL_FILES.values() and report["model_name"] == "net"
    assert "graded `net`" in judge.judge_mlp(EVALUATION, "net").output
    (tmp_path / "two").mkdir()
    namespace = {"a": nn.Linear(784, 10), "b": nn.Linear(784, 10), **FULL}
    exec(compile(export_cell_source(str(tmp_path / "two")), "export", "exec"), namespace)  # noqa: S102
    assert read_export(tmp_path / "two")["model"] is None  # two candidates: no guessing


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_export_of_a_model_trained_on_cuda(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).cuda()
    report = run_export(tmp_path, model)
    assert report["model"] in MODEL_FILES.values() and report["trained_on"].startswith("cuda")


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


# ---- issue 19: what the notebook did, not how it was written -------------------------------------------

def _recorded(*figures_axes, how="shown", positions=None):
    """Figures as the kernel's probe records them, through JSON and the judge's checks: each figure is a list of
    axes, each axes a list of y sequences (or ("image", rows, cols))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from grader.notebook import plots, probe

    probe.figures.clear()
    probe.log.clear()
    for number, axes in enumerate(figures_axes):
        probe.log[:] = [["x", {}]] * (positions[number] if positions else number)
        fig, subplots = plt.subplots(1, len(axes), squeeze=False)
        for ax, content in zip(subplots[0], axes):
            for item in content:
                if item[0] == "image":
                    ax.imshow([[0.0] * item[2]] * item[1])
                else:
                    ax.plot(item)
        probe.record(fig, how, "loss.png" if how == "saved" else None)
        plt.close(fig)
    report = json.loads(json.dumps(probe.report()))
    return plots.clean_figures(report["figures"])


HISTORY = {"train_losses": [1.0 - 0.1 * e for e in range(8)], "val_losses": [1.1 - 0.1 * e for e in range(8)],
           "train_accuracies": [0.5 + 0.05 * e for e in range(8)],
           "val_accuracies": [0.45 + 0.05 * e for e in range(8)]}
CELLS = [(0, "plot_curves()"), (1, "show()"), (2, "show()")]


def test_a_plot_counts_by_the_data_it_draws_whatever_its_cell_says():
    percent = [[100 * v for v in HISTORY["train_accuracies"]], [100 * v for v in HISTORY["val_accuracies"]]]
    recorded = _recorded([[HISTORY["train_losses"], HISTORY["val_losses"]]], [percent])
    loss, acc = judge.judge_plots(CELLS[:2], None, HISTORY, recorded=recorded, cells_at={0: 0, 1: 1})
    assert loss.status == "passed" and "code cell 0 draws train_losses / val_losses" in loss.output
    assert "2 lines of 8 points" in loss.output
    assert acc.status == "passed"  # drawn as percentages from lists of fractions


def test_other_data_never_stands_in_for_the_histories():
    iris = [[1.0 - 0.01 * e for e in range(20)], [1.2 - 0.01 * e for e in range(20)]]
    recorded = _recorded([iris], [[("image", 10, 10)]])
    loss, acc = judge.judge_plots(CELLS[:2], None, HISTORY, recorded=recorded, cells_at={0: 0, 1: 1})
    assert loss.status == acc.status == "failed"
    assert "2 lines of 20 points" in loss.output and "an image 10x10" in loss.output


def test_a_figure_only_saved_or_closed_is_not_in_the_outputs():
    recorded = _recorded([[HISTORY["train_losses"], HISTORY["val_losses"]]], how="saved")
    loss, _ = judge.judge_plots(CELLS[:1], None, HISTORY, recorded=recorded, cells_at={0: 0})
    assert loss.status == "failed" and "saved to 'loss.png' but never shown" in loss.output
    image = [(0, "plt.savefig('loss.png')"), (1, "display(Image('loss.png'))")]
    loss, _ = judge.judge_plots(image, None, HISTORY, recorded=recorded, cells_at={0: 0})
    assert loss.status == "passed" and "shown in code cell 1" in loss.output
    earlier = _recorded([[HISTORY["train_losses"][:5], HISTORY["val_losses"][:5]]])  # later epochs appended
    loss, _ = judge.judge_plots(CELLS[:1], None, HISTORY, recorded=earlier, cells_at={0: 0})
    assert loss.status == "passed" and "2 lines of 5 points" in loss.output
    half = _recorded([[HISTORY["train_losses"], [0.3] * 8]])
    loss, _ = judge.judge_plots(CELLS[:1], None, HISTORY, recorded=half, cells_at={0: 0})
    assert loss.status == "failed" and "draws train_losses but not val_losses" in loss.output


def test_a_figure_shown_by_a_cell_that_raised_or_without_an_image_output_does_not_count():
    recorded = _recorded([[HISTORY["train_losses"], HISTORY["val_losses"]]])
    loss, _ = judge.judge_plots([], None, HISTORY, recorded=recorded, cells_at={0: 0})  # no image in the outputs
    assert loss.status == "failed"


def test_lists_kept_inside_a_function_credit_per_epoch_curves_and_say_so():
    history = dict.fromkeys(HISTORY)
    recorded = _recorded([[HISTORY["train_losses"], HISTORY["val_losses"]],
                          [HISTORY["train_accuracies"], HISTORY["val_accuracies"]]])
    loss, acc = judge.judge_plots(CELLS[:1], None, history, recorded=recorded, cells_at={0: 0})
    assert loss.status == acc.status == "passed"
    assert "could not be checked" in loss.output and "two curves of 8 points" in loss.output
    iris_only = _recorded([[HISTORY["train_losses"]]], [[("image", 10, 10)]])
    loss, acc = judge.judge_plots(CELLS[:2], None, history, recorded=iris_only, cells_at={0: 0, 1: 1})
    assert loss.status == acc.status == "failed" and "no figure shows two per-epoch curves" in loss.output


def test_figures_from_the_kernel_are_rechecked():
    from grader.notebook import plots

    hostile = [{"how": "shown", "cell": 1, "axes": [{"series": [{"kind": "line", "n": 2, "y": ["a", 1]}]}]},
               {"how": "drawn", "cell": 1}, {"how": "shown", "cell": -1}, "x",
               {"how": "shown", "cell": 2, "file": "\x1b[31mred", "axes": [{"title": "\x00t" * 100, "series": 5}]}]
    figures = plots.clean_figures(hostile)
    assert [f.position for f in figures] == [1, 2] and figures[0].series == []
    assert "\x1b" not in figures[1].file and len(figures[1].titles[1]) <= 80 and "\x00" not in figures[1].titles[1]
    assert plots.clean_figures("nonsense") is None and plots.clean_figures([{}] * 10_000) == []


def test_per_batch_lists_fail_the_epochs_item_with_a_reason():
    per_batch = dict(HISTORY, train_losses=[1.0] * 435, val_losses=[1.0] * 15, train_accuracies=[0.8] * 15,
                     val_accuracies=[0.8] * 15)
    result = judge.judge_epochs(judge.clean_history(per_batch))
    assert result.status == "failed" and "train_losses has 435 entries beside 15" in result.output
    assert "one entry per batch" in result.output
    assert judge.judge_epochs(judge.clean_history(HISTORY)).status == "passed"


def _loss_graph(loss):
    from grader.notebook import probe

    return judge.loss_graph({"backward": json.loads(json.dumps(probe._graph(loss)))})


def test_the_loss_actually_used_decides_the_logits_item():
    torch.manual_seed(0)
    x, y = torch.randn(4, 784), torch.tensor([0, 1, 2, 3])
    logits_model = nn.Sequential(nn.Linear(784, 10))
    softmax_model = nn.Sequential(nn.Linear(784, 10), nn.Softmax(dim=1))
    ce = _loss_graph(nn.CrossEntropyLoss()(logits_model(x), y))
    handwritten = _loss_graph(-torch.log(softmax_model(x).gather(1, y[:, None]).squeeze(1) + 1e-9).mean())
    double = _loss_graph(nn.CrossEntropyLoss()(softmax_model(x), y))
    assert judge.describe_loss(ce)[1] is False and "cross-entropy on logits" in judge.describe_loss(ce)[0]
    assert judge.describe_loss(handwritten) == (judge.describe_loss(handwritten)[0], False)
    assert "hand-written cross-entropy" in judge.describe_loss(handwritten)[0]
    assert judge.describe_loss(double)[1] is True
    probabilities = dict(EVALUATION, softmax_output=True)
    ok = judge.judge_logits(probabilities, {"backward": {"nodes": [[n, c] for n, c in handwritten]}})
    assert ok.status == "passed" and "hand-written" in ok.output
    bad = judge.judge_logits(probabilities, {"backward": {"nodes": [[n, c] for n, c in double]}})
    assert bad.status == "failed" and "remove the final softmax" in bad.output
    given = judge.judge_logits(EVALUATION, {"cross_entropy": {"calls": 3, "last_probabilities": True}})
    assert given.status == "failed" and "given probabilities" in given.output
    unseen = judge.judge_logits(probabilities, None)
    assert unseen.status == "failed" and "no training step" in unseen.output
    assert judge.loss_graph({"backward": {"nodes": [["x", [5]]]}}) is None  # a child out of range
    assert judge.loss_graph({"backward": {"nodes": [["<b>", []]]}}) is None


def test_export_unwraps_compile_and_data_parallel(tmp_path):
    inner = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    for n, wrapped in enumerate([torch.compile(inner), nn.DataParallel(inner), nn.DataParallel(torch.compile(inner))]):
        (tmp_path / str(n)).mkdir()
        report = run_export(tmp_path / str(n), wrapped)
        assert report["model"] in MODEL_FILES.values() and report["input"] == "images", report["errors"]
        assert report["unwrapped"] and report["unwrapped"][0] in ("OptimizedModule", "DataParallel")
    assert "inside OptimizedModule" in judge.judge_mlp(EVALUATION, None, ["OptimizedModule"]).output
    assert "inside" not in judge.judge_mlp(EVALUATION, None, ["<script>"]).output


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_export_takes_float32_images_for_a_model_in_another_dtype(tmp_path, dtype):
    model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)).to(dtype)
    report = run_export(tmp_path, model)
    assert report["model"] in MODEL_FILES.values() and report["input"] == "features", report["attempts"]
    assert report["dtype"] == str(dtype)
    out = load_exported(tmp_path, report)(torch.rand(5, 784))
    assert out.dtype == torch.float32 and out.shape == (5, 10)
    note = judge.judge_accuracy(EVALUATION, [0.84], 0.82, report["dtype"]).output
    assert f"parameters are {dtype}" in note and "no points lost" in note


def test_colab_files_stand_in_never_raises(tmp_path):
    import subprocess
    import sys

    from grader.sandbox.isolation import RUNTIME_DIR

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "iris.csv").write_text("a,b\n")
    (tmp_path / "activations.py").write_text("x = 1\n")
    script = ("from google.colab import files\nup = files.upload()\nprint(sorted(up), up['iris.csv'])\n"
              "files.download('model.pt'); files.download(None)\n"
              "try:\n    up['nowhere.csv']\nexcept KeyError as e:\n    print('KeyError', e)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(RUNTIME_DIR / "colab")}, check=True)
    assert "['activations.py'] b'a,b\\n'" in done.stdout and "returns the submission's files" in done.stdout
    assert "files.download('model.pt') skipped" in done.stdout and "no such file in it" in done.stdout
    notes = colab_notes([(1, "from google.colab import files\nup = files.upload()\nfiles.download('m.pt')")])
    assert "returns the submission's files" in notes[0] and "does nothing" in notes[0]


def test_colab_note_never_says_no_points_lost_about_a_cell_that_failed():
    from grader.notebook.run import CellProblem

    run = NotebookRun(notes=["code cell 2 is Colab-only in part, no points lost: `files.upload()` ..."],
                      errors=[CellProblem(2, "    up = files.upload()", "KeyError: 'x.csv'")])
    output = judge.judge_runs(run).output
    assert "no points lost" not in output and "the cell raised the error shown above" in output


def test_a_missing_file_gets_the_data_layout_hint():
    hinted = with_hints("FileNotFoundError: [Errno 2] No such file or directory: 'fashion-mnist_train.csv'")
    assert "PA3_DATA_DIR" in hinted and "DATA_DIR" in hinted and "FashionMNIST/raw/" in hinted
    assert "Kaggle's CSV copies" in hinted
    assert "Kaggle" not in with_hints("FileNotFoundError: [Errno 2] No such file or directory: 'model.pt'")


def test_probe_records_figures_as_they_are_shown_saved_or_closed(tmp_path):
    """The probe's matplotlib hooks, in a fresh process as in the kernel (display goes through print_figure)."""
    import subprocess
    import sys

    from grader.notebook import probe

    script = f"""
import io, json, sys, types
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
probe = types.ModuleType("_pa3_probe")
exec(compile(open({probe.__file__!r}).read(), "pa3_probe", "exec"), probe.__dict__)
probe._install_matplotlib()
shown = plt.figure(); plt.plot([3, 2, 1]); plt.bar([0, 1], [5, 6]); shown.canvas.print_figure(io.BytesIO())
saved = plt.figure(); plt.plot([1, 2]); plt.savefig({str(tmp_path / "x.png")!r})
probe.log.append(["digest", {{}}])
closed = plt.figure(); plt.imshow([[0, 1], [1, 0]]); plt.close(closed)
plt.close("all")
print(json.dumps(probe.report()))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    from grader.notebook import plots

    figures = plots.clean_figures(json.loads(done.stdout.splitlines()[-1])["figures"])
    assert [(f.how, f.position) for f in figures] == [("shown", 0), ("saved", 0), ("closed", 1)]
    assert [(s.kind, s.y) for s in figures[0].series] == [("line", [3.0, 2.0, 1.0]), ("bars", [5.0, 6.0])]
    assert figures[1].file.endswith("x.png") and figures[2].images == [(2, 2)]
