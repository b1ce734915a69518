"""`pa3 grade`: results.json to Gradescope's spec, the terminal report, --deadline and --isolation."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from grader import REFERENCE_DIR, TEMPLATE_DIR
from grader.results import GradeResult, TestResult, cap, schema, write_results
from tests.corpus import MUTANTS, build


def pa3_grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", "grade", *args], capture_output=True, text=True,
                          timeout=600)


def test_results_json_follows_the_spec(tmp_path):
    results = tmp_path / "results" / "results.json"
    run = pa3_grade(str(REFERENCE_DIR), "--no-notebook", "--results", str(results))
    assert run.returncode == 0, run.stderr
    document = json.loads(results.read_text())
    jsonschema.validate(document, schema())
    assert isinstance(document["execution_time"], (int, float)) and document["score"] == 104
    assert len(document["tests"]) == 77 and {t["status"] for t in document["tests"]} == {"passed"}
    assert {t["visibility"] for t in document["tests"]} == {"visible", "after_due_date"}
    assert "Hand-graded (not scored here)" in document["output"] and "bwrap" in document["extra_data"]["isolation"]
    assert sorted(t["number"] for t in document["tests"])[:2] == ["1.1.1", "1.1.10"]
    assert not list(results.parent.glob(".results.json.*"))  # the temporary file was renamed, not left


def test_terminal_report_shows_sections_failures_and_hand_graded_items(tmp_path):
    file, old, new, _ = MUTANTS["ce_backward_no_mean"]
    run = pa3_grade(str(build(tmp_path / "sub", {file: [(old, new)]})), "--no-notebook")
    out = run.stdout
    assert "Section 1.1: layers, activations and loss" in out and "hand-graded" in out
    assert "CrossEntropyLoss.backward: hand-checked values" in out
    assert "expected:" in out and "got:" in out and "hint:" in out


def test_deadline_stops_starting_tests_and_still_writes_everything(tmp_path):
    results = tmp_path / "results.json"
    run = pa3_grade(str(REFERENCE_DIR), "--no-notebook", "--deadline", "0.01", "--results", str(results))
    assert run.returncode == 0
    document = json.loads(results.read_text())
    jsonschema.validate(document, schema())
    assert len(document["tests"]) == 77
    skipped = [t for t in document["tests"] if "deadline" in t["output"]]
    assert skipped and all(t["status"] == "failed" and t["score"] == 0 for t in skipped)


def test_isolation_none_says_so_in_the_results(tmp_path):
    results = tmp_path / "results.json"
    assert pa3_grade(str(TEMPLATE_DIR), "--no-notebook", "--isolation", "none",
                     "--results", str(results)).returncode == 0
    document = json.loads(results.read_text())
    assert "NO isolation" in document["extra_data"]["isolation"] and "NO isolation" in document["output"]
    assert document["score"] == 0


def test_unknown_isolation_is_refused():
    run = pa3_grade(str(REFERENCE_DIR), "--no-notebook", "--isolation", "chroot")
    assert run.returncode == 2 and "invalid choice" in run.stderr


def test_output_is_capped_and_the_schema_rejects_bad_documents(tmp_path):
    long = TestResult("x: long", "1.1.1", 0, 1, "failed", output="y" * 250_000)
    document = write_results(tmp_path / "r.json", GradeResult([long], 1.0, "process", "0"))
    assert len(document["tests"][0]["output"]) == 100_000 and "output cut" in document["tests"][0]["output"]
    assert len(cap("z" * 10)) == 10
    bad = dict(document, execution_time="1.0")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(document, tests=[dict(document["tests"][0], status="error")]), schema())
