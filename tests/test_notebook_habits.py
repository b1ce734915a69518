"""Section 2 on notebooks written the way students write them in Colab (tests/student_notebooks.py).

Each is graded end to end (sandboxed kernel, export, evaluation in a clean process) on a small synthetic
set, and each rubric item judges only its own property.
"""

from __future__ import annotations

import pytest

from grader import fashion_data
from grader.grade import grade
from grader.options import GradeOptions
from tests import student_notebooks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmnist-small")
    fashion_data.synth(root, 2000, 1000, seed=0)  # an 8-epoch MLP measures about 0.92 here
    return root


@pytest.fixture(scope="module")
def graded(tmp_path_factory, small_root):
    cache = {}

    def run(name):
        if name not in cache:
            folder = student_notebooks.submission(tmp_path_factory.mktemp(name), name)
            result = grade(folder, GradeOptions(data_dir=small_root))
            assert sum(t.score for t in result.tests if not t.number.startswith("2.")) == 104
            cache[name] = {t.number: t for t in result.tests if t.number.startswith("2.")}
        return cache[name]

    return run


def points(s2) -> float:
    return sum(t.score for t in s2.values())


def failed(s2) -> set[str]:
    return {n for n, t in s2.items() if t.status == "failed"}


def test_device_agnostic_notebook_gets_full_marks(graded):
    s2 = graded("base")
    assert points(s2) == 44, {n: t.output for n, t in s2.items() if t.status == "failed"}
    assert "CPU only" in s2["2.1"].output  # the kernel's devices are recorded
    assert "(N, 1, 28, 28) images" in s2["2.4"].output and "read as fractions" in s2["2.4"].output


def test_flattened_input_model_is_fed_784_features(graded):
    s2 = graded("flattened_input")
    assert points(s2) == 44, {n: t.output for n, t in s2.items() if t.status == "failed"}
    assert "(N, 784) flattened features" in s2["2.4"].output


def test_percent_histories_are_read_as_percentages(graded):
    s2 = graded("percent_history")
    assert points(s2) == 44
    assert "val_accuracies read as percentages" in s2["2.4"].output
    assert "far above" not in s2["2.4"].output


def test_tensor_and_numpy_scalars_in_histories(graded):
    assert points(graded("tensor_and_numpy_history")) == 44


def test_normalisation_in_the_transform_costs_the_accuracy_item_only(graded):
    s2 = graded("normalised_in_transform")
    assert failed(s2) == {"2.4"}, {n: t.output for n, t in s2.items() if t.status == "failed"}
    assert "far above the measured" in s2["2.4"].output and "Normalize" in s2["2.4"].output
    assert s2["2.5"].status == "passed"


def test_plots_drawn_before_training_show_blank_axes(graded):
    s2 = graded("plots_before_training")
    assert failed(s2) == {"2.6", "2.7"}
    assert all("still empty when code cell" in s2[n].output for n in ("2.6", "2.7"))


def test_plots_of_lists_never_filled_earn_nothing(graded):
    s2 = graded("lists_never_filled")
    assert failed(s2) == {"2.5", "2.6", "2.7"}
    assert "missing or empty when the notebook finishes" in s2["2.6"].output
    assert "train_losses: 0" in s2["2.5"].output


def test_hard_coded_dot_data_root_finds_the_files(graded):
    assert points(graded("dot_data_root")) == 44


def test_tqdm_progress_bars_run(graded):
    assert points(graded("tqdm_progress")) == 44


def test_colab_only_cells_are_reported_and_cost_nothing(graded):
    s2 = graded("colab_cells")
    assert points(s2) == 44, {n: t.output for n, t in s2.items() if t.status == "failed"}
    notes = s2["2.1"].output
    assert "code cell 1 is Colab-only" in notes and "google.colab" in notes
    assert "code cell 2 is Colab-only" in notes and "already installed here): skipped" in notes
    assert "code cell 7 is Colab-only" in notes and "%matplotlib inline" in notes


def test_a_download_attempt_gets_the_no_network_hint(graded):
    s2 = graded("colab_download")
    assert s2["2.1"].status == "failed"
    assert "grading has no network" in s2["2.1"].output and "PA3_DATA_DIR" in s2["2.1"].output


def test_hard_coded_cuda_gets_the_cpu_hint(graded):
    s2 = graded("hard_coded_cuda")
    assert s2["2.1"].status == "failed" and "grading runs on the CPU" in s2["2.1"].output
