"""`pa3 check` as students use it: members by name, the progress view, and the same verdicts on every platform
(Windows, macOS, Linux without root or bubblewrap simulated here by taking away what each lacks)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import grader
from grader import PROJECT_ROOT, TEMPLATE_DIR
from grader.members import NOTEBOOK, PART1, UnknownMember, select
from grader.sandbox import hostcaps, isolation
from tests.corpus import HALF_DONE, half_finished

NOBODY = 65534
SIM = PROJECT_ROOT / "tests" / "platform_sim.py"


@pytest.fixture(scope="module")
def shared_tmp():
    """A folder the unprivileged uid can read and write (pytest's own tmp is 0700 root)."""
    folder = Path(tempfile.mkdtemp(prefix="pa3-selfcheck-test-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def give_to_nobody(path: Path) -> None:
    if hostcaps.is_root():
        isolation.hand_over(path, NOBODY)


@pytest.fixture(scope="module")
def half(shared_tmp) -> Path:
    folder = half_finished(shared_tmp / "half")
    give_to_nobody(shared_tmp)
    return folder


@pytest.fixture(scope="module")
def template(shared_tmp) -> Path:
    folder = shared_tmp / "template"
    shutil.copytree(TEMPLATE_DIR, folder, ignore=shutil.ignore_patterns(".generated-from"))
    give_to_nobody(shared_tmp)
    return folder


def pa3(*args: str, cwd: Path, unprivileged: bool = False, platform: str | None = None, no_bwrap: bool = False,
        sim_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`pa3 ARGS` from the repo, optionally as uid 65534, with no bwrap on PATH, or as another platform."""
    argv = [sys.executable, str(SIM), platform] if platform else [sys.executable, "-m", "grader.cli"]
    if unprivileged and hostcaps.is_root():
        argv = ["/usr/bin/setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    env = dict(os.environ, HOME=str(cwd.parent), COLUMNS="80", PA3_SIM_ROOT=str(PROJECT_ROOT),
               PA3_SIM_DIR=str(sim_dir or cwd.parent))
    if no_bwrap:
        env["PATH"] = str(cwd.parent / "empty-bin")  # a folder that does not exist: no bwrap, no setpriv
    return subprocess.run([*argv, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def flat(text: str) -> str:
    """``text`` with the console's line wrapping undone (for phrases that may wrap at 80 columns)."""
    return " ".join(text.split())


def verdicts(record: Path) -> list[tuple[str, str, float]]:
    return [(t["number"], t["status"], t["score"]) for t in json.loads(record.read_text())["tests"]]


def member_lines(stdout: str) -> dict[str, str]:
    """{member: its progress line} from a report."""
    return {m: line for line in stdout.splitlines() for m in PART1 + (NOTEBOOK,)
            if re.match(rf"\s+(done|failing|not started|not loaded)\s+{re.escape(m)}\s", line)}


@pytest.fixture(scope="module")
def baseline(half, shared_tmp) -> SimpleNamespace:
    """`pa3 check` on the half-finished submission, as the repo runs it here (strongest isolation)."""
    record = shared_tmp / "records" / "baseline.json"
    done = pa3("check", "--record", str(record), cwd=half)
    assert done.returncode == 1, done.stdout + done.stderr
    return SimpleNamespace(stdout=done.stdout, tests=json.loads(record.read_text())["tests"], verdicts=verdicts(record))


# ---- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("names, expected", [
    (["relu"], ("ReLU.forward", "ReLU.backward")),
    (["ReLU"], ("ReLU.forward", "ReLU.backward")),
    (["ReLU.backward"], ("ReLU.backward",)),
    (["relu.BACKWARD"], ("ReLU.backward",)),
    (["softmax"], ("SoftMax.forward", "SoftMax.backward")),
    (["layer"], ("FullyConnectedLayer.forward", "FullyConnectedLayer.backward")),
    (["layers.py"], ("FullyConnectedLayer.forward", "FullyConnectedLayer.backward")),
    (["model.predict"], ("NeuralNetworkModel.predict",)),
    (["cross_entropy.forward"], ("CrossEntropyLoss.forward",)),
    (["activations"], ("ReLU.forward", "ReLU.backward", "SoftMax.forward", "SoftMax.backward")),
    (["model.predict", "relu", "ReLU.forward"], ("ReLU.forward", "ReLU.backward", "NeuralNetworkModel.predict")),
    (["notebook"], (NOTEBOOK,)),
])
def test_member_names_in_any_spelling(names, expected):
    assert select(names) == expected


@pytest.mark.parametrize("name", ["relux", "ReLU.sideways", "convolution", ""])
def test_an_unknown_name_lists_the_valid_ones(name):
    with pytest.raises(UnknownMember) as caught:
        select([name])
    message = str(caught.value)
    assert repr(name) in message
    assert all(member in message for member in PART1) and "relu" in message and "model.predict" in message


def test_unknown_member_on_the_command_line(half):
    done = pa3("check", "relu", "sofmax", cwd=half)
    assert done.returncode == 2
    assert "'sofmax' (did you mean softmax?)" in done.stdout and "ReLU.backward" in done.stdout
    assert "Visible tests" not in done.stdout  # nothing was graded


@pytest.mark.parametrize("names", [["relu"], ["ReLU.backward"], ["SOFTMAX"], ["layer"], ["model.predict"],
                                   ["relu", "loss.forward"]])
def test_check_runs_only_the_named_members(names, half, baseline, shared_tmp):
    record = shared_tmp / "records" / f"only-{'-'.join(names)}.json"
    done = pa3("check", *names, "--record", str(record), cwd=half)
    chosen = select(names)
    expected = [v for v, t in zip(baseline.verdicts, baseline.tests) if t["name"].split(":")[0] in chosen]
    assert expected and verdicts(record) == expected  # the same verdicts as in the full run, and nothing else
    assert set(member_lines(done.stdout)) == set(chosen)
    assert done.returncode == (0 if all(status == "passed" for _, status, _ in expected) else 1)


# ---- the progress view ------------------------------------------------------------------------------

def test_progress_view_on_the_template_is_one_line_per_member(template):
    done = pa3("check", cwd=template)
    lines = done.stdout.rstrip("\n").splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(lines) <= 20, done.stdout
    found = member_lines(done.stdout)
    assert set(found) == set(PART1) and all("not started" in line for line in found.values()), done.stdout
    assert "╭" not in done.stdout and "NotImplementedError" not in done.stdout  # no panel per test
    assert lines[-1].startswith("Visible tests: 0 / 96 points")


def test_progress_view_on_a_half_finished_submission(baseline):
    stdout, tests = baseline.stdout, baseline.tests
    found = member_lines(stdout)
    assert set(found) == set(PART1)
    for member, line in found.items():
        own = [t for t in tests if t["name"].startswith(member + ":")]
        failed = [t for t in own if t["status"] != "passed"]
        if member not in HALF_DONE:
            assert "not started" in line and "template stub" in line, line
        elif not failed:
            assert re.search(rf"done\s+{re.escape(member)}\s+{len(own)} of {len(own)} tests? pass(es)?$", line), line
        else:
            assert re.search(rf"failing\s+{re.escape(member)}\s+{len(failed)} of {len(own)} tests? fail", line), line
    # the corpus's bug (gradients['b'] as a mean) fails FullyConnectedLayer.backward; stubs are not "failing"
    assert "failing" in found["FullyConnectedLayer.backward"]
    titles = re.findall(r"╭─ (\d[\d.]*)\s+([A-Za-z.]+):", stdout)
    failing = {m for m, line in found.items() if "failing" in line}
    assert titles and {member for _, member in titles} == failing  # details for failing members only
    detail = stdout[stdout.index("FullyConnectedLayer.backward: "):]
    assert "expected:" in detail and "got:" in detail and "hint:" in detail  # today's detail is kept


def test_python_entry_point_prints_the_same_report(half, capsys):
    assert grader.check("relu", "layer", folder=half) is None
    in_python = capsys.readouterr().out
    command = pa3("check", "relu", "layer", cwd=half).stdout
    varying = re.compile(r"\(\d+\.\d s\)|uid \d+")  # the time, and the uid each grading process leases
    assert varying.sub("", in_python) == varying.sub("", command)
    assert "FullyConnectedLayer.backward" in in_python


# ---- platforms: the same verdicts wherever students work -----------------------------------------------

PLATFORMS = {  # the gap phrases are the report's own words; bubblewrap is off PATH in all four
    # name: (unprivileged, simulated platform, what the report must say it cannot limit)
    "linux-root-without-bwrap": (False, None, "world-readable files: bubblewrap is not installed"),
    "linux-without-root-or-bwrap": (True, None, "your other files (it runs as you): bubblewrap is not installed"),
    "macos": (True, "macos", "macOS does not enforce RLIMIT_AS"),
    "windows": (True, "windows", "no `resource` module"),
}


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_platform_fallbacks_give_the_same_verdicts(name, half, baseline, shared_tmp):
    unprivileged, platform, gap = PLATFORMS[name]
    sim_dir = shared_tmp / f"sim-{name}"
    sim_dir.mkdir()
    give_to_nobody(sim_dir)
    record = sim_dir / "record.json"
    done = pa3("check", "--record", str(record), cwd=half, unprivileged=unprivileged, platform=platform,
               no_bwrap=True, sim_dir=sim_dir)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert verdicts(record) == baseline.verdicts
    level = json.loads(record.read_text())["isolation"].split(":")[0]
    assert level == ("user" if not unprivileged and hostcaps.is_root() and isolation.can_drop_privileges()
                     else "process")
    said = flat(done.stdout)
    checks = json.loads(record.read_text()).get("extra", {}).get("isolation_checks", {})
    if platform is None and checks.get("confined"):  # Landlock and the seccomp filter closed both (issue 21)
        assert "network and" not in said and said.count("not limited here:") <= 1, done.stdout
    else:
        assert said.count("not limited here:") == 1 and gap in said, done.stdout
    if platform == "windows":  # the workers went through the simulated Windows worker (stdio channel, no rlimits)
        assert (sim_dir / "workers-started").read_text().split()
        assert "no rlimits" in said and "only the worker is stopped" in said


def test_template_report_stays_short_where_isolation_is_weakest(template, shared_tmp):
    sim_dir = shared_tmp / "sim-template-windows"
    sim_dir.mkdir()
    give_to_nobody(sim_dir)
    done = pa3("check", cwd=template, unprivileged=True, platform="windows", no_bwrap=True, sim_dir=sim_dir)
    assert done.returncode == 1 and "not limited here:" in done.stdout, done.stdout + done.stderr
    assert len(done.stdout.rstrip("\n").splitlines()) <= 20, done.stdout
    assert all("not started" in line for line in member_lines(done.stdout).values())


def test_a_folder_first_checks_that_folder(half, shared_tmp):
    """`pa3 check FOLDER` (as before) and `pa3 check FOLDER MEMBER ...` from elsewhere."""
    whole = pa3("check", str(half), cwd=shared_tmp)
    assert whole.returncode == 1 and set(member_lines(whole.stdout)) == set(PART1)
    some = pa3("check", str(half), "relu", cwd=shared_tmp)
    assert some.returncode == 0 and set(member_lines(some.stdout)) == {"ReLU.forward", "ReLU.backward"}


def test_check_in_a_jupyter_cell_prints_the_report(half, shared_tmp):
    """`from grader import check; check("relu", "layer")` in a real kernel (as in Colab): the cell shows the
    report `pa3 check relu layer` prints (rich renders it for Jupyter, at its own width)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"from grader import check\ncheck('relu', 'layer', folder={str(half)!r})")])
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(shared_tmp)}}
                   ).execute()
    outputs = notebook.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    assert len(outputs) == 1, outputs  # one report, not one output per line
    ansi = re.compile(r"\x1b\[[0-9;]*m")  # rich colours the plain-text form for notebook front ends
    shown = ansi.sub("", outputs[0].get("text", "") or outputs[0].get("data", {}).get("text/plain", ""))
    command = pa3("check", "relu", "layer", cwd=half).stdout
    assert member_lines(shown).keys() == member_lines(command).keys() == set(select(["relu", "layer"]))
    assert {m: line.split() for m, line in member_lines(shown).items()} == \
        {m: line.split() for m, line in member_lines(command).items()}
    assert command.splitlines()[-1] in shown and "expected:" in shown and "hint:" in shown


def test_student_text_in_the_report_is_never_markup():
    """An exception message or file name with [brackets] is printed as written, not read as rich markup."""
    import io

    from rich.console import Console

    from grader.render.terminal import print_progress
    from grader.results import GradeResult, TestResult

    hostile = "your code raised ValueError: [bold red]fake[/bold red] [link=http://x]y[/link]"
    result = GradeResult(tests=[TestResult("ReLU.forward: values", "1.1.3", 0, 1, "failed", hostile)],
                         execution_time=0.1, isolation="process: x", seed="0", notes=["a[b]c.py is not a module"])
    console = Console(file=io.StringIO(), width=200)
    print_progress(result, console, scope="relu[/]")
    text = console.file.getvalue()
    assert hostile in text and "a[b]c.py" in text and "relu[/]" in text


def test_a_missing_or_broken_file_is_one_note_not_a_panel_per_test(half, shared_tmp):
    broken = shared_tmp / "broken"
    shutil.copytree(half, broken)
    with open(broken / "loss.py", "a") as f:
        f.write("def oops(:\n")
    (broken / "model.py").unlink()
    done = pa3("check", cwd=broken)
    found = member_lines(done.stdout)
    for member, line in found.items():
        if member.startswith(("CrossEntropyLoss", "NeuralNetworkModel")):
            assert "not loaded" in line and ("loss.py: see the note" in line or "model.py: see the note" in line)
    assert "failing" in found["FullyConnectedLayer.backward"] and "done" in found["ReLU.forward"]
    titles = re.findall(r"╭─ \S+\s+([A-Za-z.]+):", done.stdout)
    assert set(titles) == {"FullyConnectedLayer.backward"}  # no panels for the members that could not load
    said = flat(done.stdout)
    assert "note: loss.py does not compile" in said and "note: model.py is missing" in said
