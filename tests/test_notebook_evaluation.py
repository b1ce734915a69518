"""The pieces of Section 2's evaluation that need no notebook: the held-out split, the export folder read
without following anything, the evaluator's one answer, the death of a kernel explained from facts, and the
evaluator itself on models made here (honest, hostile, and a file that is not a model)."""

from __future__ import annotations

import json
import os
import signal
import struct
import time

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from grader import fashion_data
from grader.fashion_data import HeldOut, load_split, prepare_for_notebook, split_test
from grader.notebook import resources
from grader.notebook.evaluate import EvaluationFailed, evaluate, model_file, parse_answer, score
from grader.notebook.export import HISTORY_FILE, read_export
from grader.sandbox import isolation
from grader.workspace import Workspace


def frame(document) -> bytes:
    body = json.dumps(document).encode()
    return struct.pack(">Q", len(body)) + body


# ---- the split --------------------------------------------------------------------------------------------

@given(st.integers(min_value=2, max_value=5000))
def test_the_split_is_two_disjoint_halves_of_the_test_set(n):
    visible, kept = split_test(n)
    assert len(set(visible) | set(kept)) == n and not set(visible) & set(kept)
    assert len(kept) == n // 2 and len(visible) == n - n // 2


def test_the_notebook_gets_one_half_and_the_grader_keeps_the_other(tmp_path, sample_root):
    held = prepare_for_notebook(sample_root, tmp_path / "kernel")
    visible_images, visible_labels = load_split(tmp_path / "kernel", "test")
    all_images, all_labels = load_split(sample_root, "test")
    assert len(visible_labels) == 885 and len(held.labels) == 885
    assert np.array_equal(visible_images, all_images[0::2]) and np.array_equal(held.images, all_images[1::2])
    assert np.array_equal(held.labels, all_labels[1::2])
    # the kernel's training split is whole, and the half kept is balanced like the split
    assert len(load_split(tmp_path / "kernel", "train")[1]) == len(load_split(sample_root, "train")[1])
    assert np.bincount(held.labels, minlength=10).min() >= 60
    with pytest.raises(ValueError, match="already holds"):
        prepare_for_notebook(sample_root, tmp_path / "kernel")


def test_the_real_sizes_test_split_leaves_the_grader_5000_images():
    visible, kept = split_test(10_000)
    assert len(kept) == 5000 and len(visible) == 5000


# ---- the export folder -------------------------------------------------------------------------------------

def test_the_export_report_is_never_read_through_a_link_a_fifo_or_past_its_size(tmp_path):
    (tmp_path / HISTORY_FILE).symlink_to("/proc/kmsg")
    started = time.monotonic()
    assert "does not read" in read_export(tmp_path)["errors"][0]
    (tmp_path / HISTORY_FILE).unlink()
    os.mkfifo(tmp_path / HISTORY_FILE)  # nobody writes: a blocking open would never return
    assert "not a regular file" in read_export(tmp_path)["errors"][0]
    (tmp_path / HISTORY_FILE).unlink()
    with open(tmp_path / HISTORY_FILE, "wb") as f:
        f.truncate(11_000_000)
    assert "accepted" in read_export(tmp_path)["errors"][0]
    assert time.monotonic() - started < 5
    (tmp_path / HISTORY_FILE).write_text(json.dumps({"model": "model.pt2", "history": {}}))
    assert read_export(tmp_path)["model"] == "model.pt2"


@pytest.mark.parametrize("report, problem", [
    ({"model": "../../etc/passwd", "format": "export"}, "unknown model file"),
    ({"model": "model.pt", "format": "export"}, "unknown model file"),
    ({"model": "model.pt2", "format": "pickle"}, "unknown model file"),
    ({"model": "model.pt2", "format": "export"}, "missing"),
])
def test_only_the_grader_chosen_names_are_accepted(tmp_path, report, problem):
    with pytest.raises(EvaluationFailed, match=problem):
        model_file(tmp_path, report)


def test_a_link_or_fifo_in_place_of_the_model_is_refused_without_opening_it(tmp_path):
    (tmp_path / "model.pt2").symlink_to("/proc/kmsg")
    with pytest.raises(EvaluationFailed, match="not a regular file"):
        model_file(tmp_path, {"model": "model.pt2", "format": "export"})
    os.mkfifo(tmp_path / "model.pt")
    with pytest.raises(EvaluationFailed, match="not a regular file"):
        model_file(tmp_path, {"model": "model.pt", "format": "torchscript"})


# ---- the evaluator's answer ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, problem", [
    (b"", "malformed"),
    (frame({"predictions": "01"}) + b"x", "malformed"),
    (frame({"predictions": "01"}) * 2, "malformed"),
    (struct.pack(">Q", 3) + b"{]}", "not valid JSON"),
    (frame(["a list"]), "malformed"),
])
def test_anything_but_exactly_one_frame_is_refused(data, problem):
    with pytest.raises(EvaluationFailed, match=problem):
        parse_answer(data, len(data))


def test_an_answer_longer_than_what_was_kept_is_refused():
    data = frame({"predictions": "01"})
    with pytest.raises(EvaluationFailed, match="too long"):
        parse_answer(data, len(data) + 1)


@given(st.text(max_size=12))
def test_predictions_must_be_one_digit_per_image(predictions):
    labels = np.zeros(4, dtype=np.uint8)
    if len(predictions) == 4 and predictions.isascii() and predictions.isdigit():
        assert score({"predictions": predictions}, labels, "images", "export")["accuracy"] is not None
    else:
        with pytest.raises(EvaluationFailed):
            score({"predictions": predictions}, labels, "images", "export")


def test_the_trusted_side_counts_and_rechecks_every_field():
    labels = np.array([1, 2, 3, 4], dtype=np.uint8)
    report = score({"predictions": "1233", "probability_rows": 4, "output_shape": [4, 10, "x"],
                    "parameterised": ["Linear", 5, "x" * 1000], "ops": ["aten.conv2d.default"], "accuracy": 1.0},
                   labels, "features", "torchscript")
    assert report["accuracy"] == 0.75 and report["n"] == 4 and report["softmax_output"]
    assert report["parameterised"] == ["Linear", "x" * 200] and report["convolution"]
    assert report["output_shape"] == [4, 10]
    with pytest.raises(EvaluationFailed, match="could not be run"):
        score({"error": "RuntimeError: no"}, labels, "images", "export")


# ---- why a kernel died ---------------------------------------------------------------------------------------

MB = 1 << 20


@pytest.mark.parametrize("facts, cause, environment", [
    (resources.Facts(kernel_limit=512 * MB, kernel_events={"oom_kill": 1}, container_limit=900 * MB),
     "more than 512 MB, the grader's limit", "container at least"),
    (resources.Facts(kernel_limit=6144 * MB, kernel_events={"oom_kill": 1}), "more than 6144 MB", None),
    (resources.Facts(container_kills=1, container_limit=768 * MB), "container's limit (768 MB)", "raise docker run"),
    (resources.Facts(container_kills=1, container_limit=16384 * MB), "container's limit", None),
    (resources.Facts(exit_code=-signal.SIGBUS, shm=(64 * MB, 0)), "/dev/shm", "--shm-size"),
    (resources.Facts(exit_code=-signal.SIGBUS, shm=(2048 * MB, 10 * MB)), "/dev/shm", None),
    (resources.Facts(exit_code=-signal.SIGKILL, process_limit=512, process_limit_hit=True), "process limit (512", None),
    (resources.Facts(exit_code=128 + signal.SIGSEGV), "SIGSEGV", None),
    (resources.Facts(exit_code=-signal.SIGKILL), "no memory or process limit", None),
    (resources.Facts(exit_code=3), "exited with code 3", None),
    (resources.Facts(over_budget="stopped by the grader: the notebook wrote 2 GB"), "wrote 2 GB", None),
])
def test_a_kernels_death_is_explained_from_facts(facts, cause, environment):
    death = resources.explain(facts)
    assert cause in death.cause
    assert (death.environment is None) if environment is None else (environment in death.environment)


def test_the_kernel_memory_leaves_the_grader_its_reserve(monkeypatch):
    monkeypatch.setattr(resources, "container_limit", lambda: 1536 * MB)
    assert resources.kernel_memory() == 1536 * MB - resources.GRADER_RESERVE
    monkeypatch.setattr(resources, "container_limit", lambda: None)
    assert resources.kernel_memory() <= resources.KERNEL_MEMORY_MAX


# ---- the evaluator on models made here -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def held_out(sample_root, tmp_path_factory) -> HeldOut:
    return prepare_for_notebook(sample_root, tmp_path_factory.mktemp("kernel-data"))


@pytest.fixture
def reachable():
    """A grading workspace: folders the sandbox uid can traverse (pytest's own are root's alone)."""
    with Workspace() as workspace:
        yield workspace.root


def export_folder(tmp_path, model, fmt="export"):
    folder = tmp_path / "export"
    folder.mkdir(mode=0o755)
    model = model.eval()
    if fmt == "export":
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        program = torch.export.export(model, (torch.zeros(4, 1, 28, 28),), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(folder / "model.pt2"))
        return folder, {"model": "model.pt2", "format": "export", "input": "images"}
    scripted = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.trace(model, torch.zeros(2, 1, 28, 28))
    torch.jit.save(scripted, str(folder / "model.pt"))
    return folder, {"model": "model.pt", "format": "torchscript", "input": "images"}


LEVELS = [level for level in ("bwrap", "user", "process") if isolation.unavailable_reason(level) is None]


@pytest.mark.parametrize("level", LEVELS)
def test_an_exported_mlp_is_measured_in_the_sandbox(reachable, held_out, level):
    tmp_path = reachable
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))
    folder, report = export_folder(tmp_path, model)
    expected = (model(torch.from_numpy(held_out.images).float().div(255).unsqueeze(1)).argmax(1).numpy()
                == held_out.labels).mean()
    result = evaluate(folder, report, held_out, level, tmp_path / "evaluation", threads=1)
    assert result["n"] == 885 and result["accuracy"] == pytest.approx(expected)
    assert result["parameterised"] == ["Linear"] and not result["convolution"] and not result["softmax_output"]
    assert "aten.linear.default" in result["ops"]


class _Probabilities(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return torch.softmax(self.fc(x.flatten(1)), dim=1)


def test_a_torchscript_model_with_a_softmax_output_is_seen_as_probabilities(reachable, held_out):
    tmp_path = reachable
    folder, report = export_folder(tmp_path, torch.jit.script(_Probabilities()), fmt="torchscript")
    result = evaluate(folder, report, held_out, LEVELS[0], tmp_path / "evaluation", threads=1)
    assert result["softmax_output"] and result["format"] == "torchscript" and result["accuracy"] is not None


def test_a_file_that_is_not_a_model_fails_the_evaluation_only(reachable, held_out):
    tmp_path = reachable
    folder = tmp_path / "export"
    folder.mkdir(mode=0o755)
    (folder / "model.pt2").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(EvaluationFailed, match="could not be run|could not be evaluated"):
        evaluate(folder, {"model": "model.pt2", "format": "export"}, held_out, LEVELS[0], tmp_path / "evaluation")


def test_the_synthetic_set_splits_the_same_way(tmp_path):
    fashion_data.synth(tmp_path / "src", 100, 51, seed=1)
    held = prepare_for_notebook(tmp_path / "src", tmp_path / "kernel")
    assert len(held.labels) == 25 and len(load_split(tmp_path / "kernel", "test")[1]) == 26


def test_a_closed_tmp_is_hinted_and_charged_to_the_setting():
    from grader.notebook.run import TMP_CLOSED, with_hints

    traceback = "PermissionError: [Errno 13] Permission denied: '/tmp/pa3_best_model.pt'"
    assert TMP_CLOSED.search(traceback) and "beside the notebook" in with_hints(traceback)
    assert not TMP_CLOSED.search("PermissionError: [Errno 13] Permission denied: '/etc/shadow'")
