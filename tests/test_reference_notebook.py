"""The reference PA3.ipynb, executed headless with nbclient on the notebook's half of the data, trains an MLP that
passes on the half of the test split only the grader has (evaluated by the sandbox's own evaluator program)."""

from __future__ import annotations

import shutil
import time

import nbformat
import pytest
from nbclient import NotebookClient

from grader import REFERENCE_DIR
from grader.fashion_data import prepare_for_notebook
from grader.notebook.evaluate import evaluate
from grader.notebook.export import HISTORY_NAMES, export_cell_source, read_export

pytestmark = pytest.mark.slow


def execute_reference(tmp_path, source, monkeypatch):
    data_root = tmp_path / "data"
    held_out = prepare_for_notebook(source, data_root)
    work = tmp_path / "work"
    shutil.copytree(REFERENCE_DIR, work)
    out = tmp_path / "export"
    out.mkdir()
    nb = nbformat.read(work / "PA3.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(export_cell_source(str(out))))
    monkeypatch.setenv("PA3_DATA_DIR", str(data_root))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # keep the inline backend so figures are captured
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    wall = time.perf_counter() - start
    figures = sum(1 for cell in nb.cells if cell.cell_type == "code"
                  for output in cell.get("outputs", []) if "image/png" in output.get("data", {}))
    report = read_export(out)
    evaluation = evaluate(out, report, held_out, "process", tmp_path / "evaluation")
    print(f"notebook wall time {wall:.1f} s, {figures} figures")
    return report, figures, evaluation


def check(export, figures, evaluation, threshold):
    assert export["errors"] == []
    for name in HISTORY_NAMES:
        assert len(export["history"][name]) >= 8, name
    assert figures >= 3  # Part 1.2's loss curve and Part 2's two figures
    assert evaluation["accuracy"] >= threshold, evaluation


def test_reference_notebook_on_real_sample(tmp_path, sample_root, monkeypatch):
    export, figures, evaluation = execute_reference(tmp_path, sample_root, monkeypatch)
    assert evaluation["n"] == 885  # the odd half of the sample's 1770 test images
    check(export, figures, evaluation, 0.80)


def test_reference_notebook_on_synthetic_set(tmp_path, synth_root, monkeypatch):
    export, figures, evaluation = execute_reference(tmp_path, synth_root, monkeypatch)
    assert evaluation["n"] == 1000
    check(export, figures, evaluation, 0.90)
