"""summary.html's "Needs a human": only what a TA must act on, and chart labels that agree with their bars.
Rows are written as pa3 batch writes them (results/<id>.json), without grading anything: fast."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from grader.render import class_summary as reports

SECTION1 = [("1.1.1", "ReLU.forward: values"), ("1.1.2", "ReLU.forward: shape"), ("1.2.1", "model forward")]
SECTION2 = [("2.1", "PA3.ipynb: runs"), ("2.4", "PA3.ipynb: validation accuracy")]


def row(ident: str, passed: int = 3, notebook: bool = True, problems: dict | None = None, **extra) -> dict:
    tests = [{"number": n, "name": name, "status": "passed" if i < passed else "failed",
              "score": float(i < passed), "max_score": 1.0}
             for i, (n, name) in enumerate(SECTION1 + (SECTION2 if notebook else []))]
    record = {"score": float(passed), "max_score": float(len(tests)), "tests": tests, "execution_time": 1.0,
              "isolation": "bwrap", "seed": "0" * 16,
              "extra": {"problems": problems or {}, "isolation_checks": {"level": "bwrap", "readable": []}}}
    record["extra"].update(extra.pop("record_extra", {}))
    return {"id": ident, "names": [ident.title()], "status": "graded", "message": "", "record": record, **extra}


def test_a_no_notebook_run_never_needs_the_notebook_nor_does_any_run_need_the_pdf():
    missing = {"PA3.ipynb": "PA3.ipynb is missing from the submission", "PA3_qa.pdf": "PA3_qa.pdf is missing"}
    rows = [row(f"s{i}", notebook=False, problems=missing) for i in range(5)]
    assert reports.needs_a_human(rows) == []
    # the same file missing in a run that grades notebooks is named
    assert reports.reasons(row("t", problems=missing)) == ["PA3.ipynb is missing from the submission"]


def test_each_reason_a_human_must_act_on_is_listed_and_nothing_else():
    rows = [
        row("ok"),
        row("failing_tests", passed=0),  # a low grade is the grader's job, not a human's
        {"id": "broken", "names": [], "status": "malformed", "message": "not a readable zip"},
        {"id": "slow", "names": [], "status": "timeout", "message": "grading took longer than 8 s"},
        row("misnamed", problems={"layers.py": "layers.py is missing; found layer.py: rename it to layers.py"}),
        row("leaky", record_extra={"isolation_checks": {"level": "user", "readable": ["/x/hidden"], "verdict": ""}}),
        row("chosen_process", record_extra={"isolation_checks": {"level": "process", "readable": ["/x"]}}),
        row("regraded", regrade={"before": 140.0, "after": 120.0}),
        row("borderline", record_extra={"section2": {"accuracy": 0.818, "threshold": 0.82, "env_fault": None}}),
        row("clear", record_extra={"section2": {"accuracy": 0.7, "threshold": 0.82, "env_fault": None}}),
        row("env", gradescope={"extra_data": {"section2": {"accuracy": None, "threshold": 0.82,
                                                           "env_fault": "the data folder has no test split"}}}),
        row("odd_section2", record_extra={"section2": "garbage"}),
    ]
    listed = {r["id"]: "; ".join(r["why"]) for r in reports.needs_a_human(rows)}
    assert sorted(listed) == ["borderline", "broken", "env", "leaky", "misnamed", "regraded", "slow"]
    assert "accuracy 0.818 within 0.01 of the threshold 0.82" in listed["borderline"]
    assert listed["env"] == "the grader's setting, not the student: the data folder has no test split"
    assert "rename it to layers.py" in listed["misnamed"] and "isolation weaker than asked" in listed["leaky"]
    assert "140.0 before, 120.0 now" in listed["regraded"] and "not readable zip" not in listed["broken"]


def test_a_regrade_that_changes_the_grade_is_recorded(tmp_path):
    from grader.batch.inputs import Submission
    from grader.batch.run import save

    sub = Submission("ada", tmp_path / "ada.zip")
    first = {"status": "graded", "message": "", "record": row("ada")["record"]}
    save(tmp_path, sub, first)
    save(tmp_path, sub, first)  # the same grade again: nothing to say
    assert "regrade" not in json.loads((tmp_path / "results" / "ada.json").read_text())
    second = {"status": "graded", "message": "", "record": row("ada", passed=1)["record"]}
    save(tmp_path, sub, second)
    saved = json.loads((tmp_path / "results" / "ada.json").read_text())
    assert saved["regrade"] == {"before": 3.0, "after": 1.0}


def test_each_bar_label_starts_with_the_bar_it_labels():
    rows = [row(f"s{i}", passed=2 if i < 3 else 1) for i in range(5)]
    members, _ = reports.pass_rates(rows)
    relu = members["ReLU.forward"]  # 3 submissions pass both its tests, 2 pass one of two: 8 of 10 tests
    assert (relu["rate"], relu["all"], relu["of"]) == (0.8, 3, 5)
    assert reports.bar_label(relu, "submissions pass them all") == "80% of tests; 3 of 5 submissions pass them all"


def test_the_summary_lists_flagged_pairs_and_renders_in_a_real_browser(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "similarity.json").write_text(json.dumps({"pairs": [
        {"a": "ada", "b": "<b>bob</b>", "score": 640.0, "flagged": True},
        {"a": "ada", "b": "cy", "score": 12.0, "flagged": False}]}))
    rows = [row("ada"), row("cy", passed=1), {"id": "dan", "names": ["Dan"], "status": "error", "message": "boom"}]
    page = reports.write_summary(out, rows).read_text()
    needs = page[page.index("Needs a human (2)"):page.index("Pass rate per graded member")]
    assert "dan" in needs and "&lt;b&gt;bob&lt;/b&gt;" in needs and "similarity.html" in needs
    assert "cy" not in needs.replace("Similar code", "")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; setup.sh installs it as root)")
    from PIL import Image, ImageStat

    shot = tmp_path / "summary.png"
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", "--window-size=1280,2400", (out / "summary.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert ImageStat.Stat(image.crop((0, 0, 1280, 600))).stddev[0] > 20  # the Needs a human tables are drawn
    print(f"\nscreenshot of the summary: {shot}")
