"""A newcomer's first run: `pa3 demo` grades every section on a fresh clone with nothing to download, and
`pa3 grade` without data says once (not once per item) that Section 2 was not graded and how to give it data."""

from __future__ import annotations

import json

import pytest

from grader import TEMPLATE_DIR
from grader.cli import main
from grader.demo import DEMO_THRESHOLD


def test_grade_without_data_says_once_that_section_2_was_not_graded(capsys, monkeypatch):
    monkeypatch.delenv("PA3_FMNIST_DIR", raising=False)
    # the starter code: its stubs fail Section 1 at once, and its notebook finds no data
    assert main(["grade", str(TEMPLATE_DIR), "--isolation", "process"]) == 0
    out = capsys.readouterr().out
    assert out.count("Section 2 was not graded") == 1 and "--data-dir DIR" in out and "pa3 data synth" in out
    # the seven Section 2 items fail for that one reason: one panel, the others named under it
    assert out.count("no FashionMNIST data to run the notebook") == 1
    assert "the same failure in 6 more: 2.2, 2.3, 2.4, 2.5, 2.6, 2.7" in out


def test_no_data_line_without_the_notebook(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PA3_FMNIST_DIR", raising=False)
    (tmp_path / "PA3.zip").write_bytes(b"not a zip")
    assert main(["grade", str(tmp_path / "PA3.zip"), "--isolation", "process", "--no-notebook"]) == 0
    assert "Section 2 was not graded" not in capsys.readouterr().out


@pytest.mark.slow
def test_the_demo_grades_every_section_with_nothing_downloaded(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert results["score"] == 148  # Sections 1.1, 1.2 and 2 in full
    accuracy = next(t for t in results["tests"] if t["number"] == "2.4")
    assert f">= {DEMO_THRESHOLD:.2f}" in accuracy["name"] and accuracy["status"] == "passed"
    assert "synthetic FashionMNIST-format set" in out and "nothing downloaded" in out
    assert "Section 2 was not graded" not in out
