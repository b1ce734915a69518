"""The trusted side against submissions aimed at it: intake, static checks, sandbox uids, stale cgroups.

Every grading here runs ``pa3 grade`` as a user would, and must by itself, within GRADE_BOUND:
exit 0, write a complete, schema-valid results.json, score no more than an honest submission with
the same correct members, and leave no process of its sandbox uid, no file of that uid in the
shared temporary folders and nothing in the grader's temporary folder.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader import REFERENCE_DIR, fstree
from grader.results import validate
from grader.sandbox import cgroup, errors, isolation, secrets, uids
from grader.sandbox.client import Sandbox
from grader.spec_run import SPEC_DIR
from test_specs.support import loops
from tests import corpus
from tests import hostile_trust as hostile

GRADE_BOUND = 240  # seconds for one --no-notebook grading; an honest one takes about 5 s here
FULL = 104.0

needs_user = pytest.mark.skipif(isolation.unavailable_reason("user") is not None,
                                reason="the user level needs root and a runtime readable by others")
BOTH_LEVELS = ["auto", pytest.param("user", marks=needs_user)]


@pytest.fixture(autouse=True)
def _trees_removed_here(tmp_path):
    """The trees built here are deeper than pytest's own clean-up can recurse (it would crash a later
    session, of anyone on the machine): each test's folder goes when the test ends."""
    yield
    assert fstree.remove_tree(tmp_path)


@pytest.fixture
def grader_tmp() -> Path:
    """The grader's TMPDIR for one test: reachable by sandbox uids, and empty again when the test ends."""
    folder = Path(tempfile.mkdtemp(prefix="pa3-trust-"))
    folder.chmod(0o711)
    yield folder
    left = sorted(p.name for p in folder.iterdir())
    fstree.remove_tree(folder)
    assert left == [], f"the grader left {left} in its temporary folder"


def grade_cli(submission: Path, out: Path, tmp: Path, level: str = "auto") -> dict:
    """``pa3 grade`` as a subprocess; checks everything every grading owes, returns results.json."""
    results = out / f"results-{level}.json"
    env = dict(os.environ, TMPDIR=str(tmp))
    run = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(submission), "--no-notebook",
                          "--isolation", level, "--results", str(results)],
                         capture_output=True, text=True, timeout=GRADE_BOUND, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    document = json.loads(results.read_text())
    validate(document)
    assert len(document["tests"]) == 77 and document["extra_data"]["max_score"] == FULL
    checks = document["extra_data"]["isolation_checks"]
    if checks["level"] != "process":  # (the process level runs as the grader and says so)
        assert checks["safe"], checks  # the secrets were checked unreadable at this level
    if checks.get("uid") is not None:
        assert checks["after"] == {"processes_left": False, "files_removed": checks["after"]["files_removed"],
                                   "files_left": 0, "ipc_left": 0}
        assert uids.processes_of(checks["uid"]) == []
        assert uids.files_of(checks["uid"]) == []
    return document


_baselines: dict[tuple, float] = {}


def honest_score(tmp_path: Path, grader_tmp: Path, drop: tuple[str, ...] = ()) -> float:
    """The score of the reference's files without ``drop``: what the same correct members earn honestly."""
    if drop not in _baselines:
        folder = corpus.build(tmp_path / ("honest-" + "-".join(drop)), drop=drop)
        _baselines[drop] = grade_cli(folder, tmp_path, grader_tmp)["score"]
    return _baselines[drop]


def notes_of(document: dict) -> str:
    return "\n".join(line for line in document["output"].splitlines() if line.startswith("Note:"))


# ---- 1. intake: any tree, any zip ---------------------------------------------------------------

TREES = {  # builder, a note it must produce, required files it costs
    "deep_folder": (hostile.deep_folder, "folder nested deeper than 32 levels", ()),
    "deep_zip": (hostile.deep_zip, "folder nested deeper than 32 levels", ()),
    "odd_names": (hostile.odd_names, "the name is not valid UTF-8", ()),
    "bad_utf8_zip": (hostile.bad_utf8_zip, "the name is not valid UTF-8", ()),
    "many_files": (hostile.many_files, "only the first 20000 entries", ()),
    "special_files": (lambda d: hostile.special_files(d, REFERENCE_DIR / "layers.py"),
                      "not a regular file (fifo, device or socket)", ("layers.py",)),
}


@pytest.mark.parametrize("name", sorted(TREES))
def test_hostile_trees_end_in_a_message_and_the_rest_is_graded(name, tmp_path, grader_tmp):
    build, note, costs = TREES[name]
    document = grade_cli(build(tmp_path / name), tmp_path, grader_tmp)
    assert note in notes_of(document), notes_of(document)
    assert document["score"] <= honest_score(tmp_path, grader_tmp, costs)
    if not costs:
        assert document["score"] == FULL  # the five files were found and graded
    else:  # layers.py was a link to the reference: refused, never followed
        assert "symbolic links are not accepted" in notes_of(document) and "'layers.py'" in notes_of(document)
        assert all("layers.py is missing" in t["output"]
                   for t in document["tests"] if t["name"].startswith("FullyConnected"))


@pytest.mark.parametrize("level", BOTH_LEVELS)
def test_deep_tree_with_special_files_at_each_level(level, tmp_path, grader_tmp):
    folder = hostile.deep_folder(tmp_path / "deep")
    os.mkfifo(folder / "util.py.bak")
    os.symlink("loop", folder / "loop")
    document = grade_cli(folder, tmp_path, grader_tmp, level)
    assert document["score"] == FULL
    assert "nested deeper" in notes_of(document) and "fifo" in notes_of(document)


def test_a_zip_declaring_too_many_entries_is_refused_before_it_is_listed(tmp_path, grader_tmp):
    document = grade_cli(hostile.many_entries_zip(tmp_path / "many"), tmp_path, grader_tmp)
    assert document["score"] == 0
    assert "declares 25007 entries" in document["extra_data"]["intake"]
    assert all("declares 25007 entries" in t["output"] for t in document["tests"] if t["number"].startswith("1.1"))


def test_remove_tree_removes_any_tree(tmp_path):
    root = tmp_path / "victim"
    root.mkdir()
    hostile._chain(root, hostile.DEEP)  # deeper than the recursion limit, longer than PATH_MAX
    os.mkfifo(root / "fifo")
    os.symlink(root, root / "loop")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    os.symlink(outside, root / "link-out")
    if os.geteuid() == 0:  # a folder closed to everyone (but root) by the student
        closed = root / "closed"
        closed.mkdir()
        (closed / "f").write_text("x")
        closed.chmod(0)
    wide = root / "wide"
    wide.mkdir()
    for i in range(2000):
        (wide / str(i)).mkdir()
    assert fstree.remove_tree(root) is True
    assert not root.exists() and outside.read_text() == "keep me"  # links are removed, never followed


# ---- 2. the loop rule on hostile sources ----------------------------------------------------------

@pytest.mark.parametrize("level", BOTH_LEVELS)
def test_sources_the_parser_cannot_take_fail_only_their_file(level, tmp_path, grader_tmp):
    document = grade_cli(hostile.nested_source(tmp_path / "nested"), tmp_path, grader_tmp, level)
    notes = notes_of(document)
    assert "activations.py cannot be parsed: it is nested too deeply" in notes
    assert "layers.py does not compile: too many nested parentheses" in notes
    assert all(t["status"] == "passed" for t in document["tests"] if t["name"].startswith("CrossEntropyLoss"))
    assert document["score"] <= honest_score(tmp_path, grader_tmp, ("activations.py", "layers.py"))


def test_a_heavy_source_is_checked_within_the_bound(tmp_path, grader_tmp):
    document = grade_cli(hostile.heavy_source(tmp_path / "heavy"), tmp_path, grader_tmp)
    rule = next(t for t in document["tests"] if t["name"].startswith("CrossEntropyLoss.forward")
                and "no loop over the batch" in t["name"])
    assert rule["status"] == "failed"  # 160 batch loops in a helper: found, or the file named as too complex
    assert "line 8 in _noise" in rule["output"] or "loss.py could not be checked" in rule["output"]
    assert document["score"] <= FULL - 1


def test_loop_rule_bounds_say_which_file_and_why():
    source = (REFERENCE_DIR / "loss.py").read_text()
    assert loops.batch_loops(source, "CrossEntropyLoss.forward") == []
    long_member = "class Loss:\n    def forward(self, Y, Y_hat):\n" + "        x = Y + 1\n" * 5000
    with pytest.raises(loops.TooComplex, match="took more than"):  # no budget left at all
        loops.batch_loops(long_member, "Loss.forward", budget=0.0)
    assert loops.batch_loops(long_member, "Loss.forward") == []  # the same, with the budget: done in time
    with pytest.raises(loops.TooComplex, match="larger than"):
        loops.batch_loops(source + "#" * loops.MAX_SOURCE, "CrossEntropyLoss.forward")
    with pytest.raises(loops.TooComplex, match="nested too deeply"):
        loops.parse("x = " + "a." * 100_000 + "b")


# ---- 8. sandbox uids: secrets, /tmp and signals stay with their submission --------------------------

PROBE = '''
import os, tempfile

def try_read(paths):
    out = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                out[path] = f.read(40).decode(errors="replace")
        except OSError as exc:
            out[path] = type(exc).__name__
    return out

def where():
    return {"uid": os.getuid(), "tmp": tempfile.gettempdir(), "home": os.environ.get("HOME")}
'''


@needs_user
def test_user_level_cannot_read_the_secrets_and_has_its_own_tmp(tmp_path):
    tmp_path.chmod(0o711)
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE)
    targets = [str(SPEC_DIR / "hidden" / "oracle.py"), str(SPEC_DIR / "hidden" / "test_hidden.py"),
               str(REFERENCE_DIR / "layers.py")]
    with Sandbox(folder, "user") as sb:
        read = sb.new("probe", "try_read", targets)
        me = sb.new("probe", "where")
    assert read == {path: "PermissionError" for path in targets}
    assert me["uid"] == isolation.sandbox_uid() and me["uid"] in uids.uid_range()
    assert me["tmp"].endswith("/.tmp") and me["home"] == me["tmp"]  # inside its own folder, not the shared /tmp
    record = secrets.check("user").as_dict()
    assert record["safe"] and record["checked"] >= 4 and record["uid"] == me["uid"]


@needs_user
def test_what_a_submission_leaves_in_the_shared_tmp_is_removed(tmp_path, grader_tmp):
    marker = f"pa3-left-{os.getpid()}-{time.monotonic_ns()}"
    targets = [str(SPEC_DIR / "hidden" / "oracle.py"), str(REFERENCE_DIR / "activations.py")]
    document = grade_cli(hostile.snooper(tmp_path / "snoop", targets, marker), tmp_path, grader_tmp, "user")
    assert document["score"] == FULL  # otherwise correct: reading nothing, it earns what it earned
    for shared in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not list(Path(shared).glob(f"{marker}*")), shared
    oracle_text = (SPEC_DIR / "hidden" / "oracle.py").read_text()
    assert oracle_text.splitlines()[0] not in json.dumps(document)


@needs_user
def test_a_secret_the_grader_cannot_close_refuses_the_user_level(grader_tmp, monkeypatch):
    folder = grader_tmp / "checkout"  # reachable by the sandbox uid, as a checkout's files would be
    folder.mkdir(mode=0o755)
    ours, theirs = folder / "ours.py", folder / "theirs.py"
    ours.write_text("ANSWER = 42\n")
    theirs.write_text("ANSWER = 42\n")
    ours.chmod(0o644)
    theirs.chmod(0o644)
    os.chown(theirs, 12345, 12345)  # a TA's checkout the grader does not own
    monkeypatch.setattr(secrets, "secret_paths", lambda: [ours])
    monkeypatch.setattr(secrets, "_checks", {})
    assert isolation.resolve("user") == "user"
    assert stat.S_IMODE(ours.stat().st_mode) & 0o007 == 0  # closed to others by the check

    monkeypatch.setattr(secrets, "secret_paths", lambda: [ours, theirs])
    monkeypatch.setattr(secrets, "_checks", {})
    with pytest.raises(errors.IsolationUnavailable, match="theirs.py .owner uid 12345.*not the grader's"):
        isolation.resolve("user")
    assert secrets.check("user").as_dict()["safe"] is False
    shutil.rmtree(folder)


LEASE_AND_STRAND = '''
import os, subprocess, sys, time
from grader.sandbox import uids
uid = uids.lease()
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], user=uid, group=uid, extra_groups=[],
                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(uid, flush=True)
time.sleep(300)
'''


@needs_user
def test_each_grader_has_its_own_uid_and_a_killed_ones_is_reclaimed():
    # A window of the range no other grading on this machine leases from (they share the lock folder): the
    # third grader below must find the killed one's uid still free, the lowest of its window.
    first_uid = 61000 + 8 * random.randrange(500)
    env = dict(os.environ, PA3_SANDBOX_UIDS=f"{first_uid}-{first_uid + 7}")

    def start():
        return subprocess.Popen([sys.executable, "-c", LEASE_AND_STRAND], stdout=subprocess.PIPE, text=True, env=env)

    first, second = start(), start()
    try:
        a, b = int(first.stdout.readline()), int(second.stdout.readline())
        assert a != b and {a, b} <= set(range(first_uid, first_uid + 8))
        assert uids.processes_of(a) and uids.processes_of(b)
        first.kill()  # a grader killed outright: its lock goes with it, its sandbox process stays
        first.wait()
        assert uids.processes_of(a)
        third = start()
        try:
            assert int(third.stdout.readline()) == a  # leased again, and what was left there is gone
            assert len(uids.processes_of(a)) == 1  # only the new owner's own sleeper
        finally:
            third.kill()
            third.wait()
    finally:
        second.kill()
        second.wait()
    for uid in (a, b):
        assert uids.kill_all(uid)


@needs_user
def test_batch_at_user_level_survives_a_student_who_kills_everything(tmp_path, grader_tmp):
    folder = tmp_path / "class"
    hostile.killer(folder / "killer")
    for name in ("ada", "bob", "cleo"):
        corpus.build(folder / name)
    out = tmp_path / "out"
    env = dict(os.environ, TMPDIR=str(grader_tmp))
    run = subprocess.run([sys.executable, "-m", "grader.cli", "batch", str(folder), "--out", str(out), "--workers", "2",
                          "--isolation", "user", "--no-notebook"], capture_output=True, text=True,
                         timeout=4 * GRADE_BOUND, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out / "grades.csv") as f:
        table = {row["id"]: row for row in csv.DictReader(f)}
    assert {sid: table[sid]["total"] for sid in ("ada", "bob", "cleo")} == {"ada": "104", "bob": "104", "cleo": "104"}
    assert table["killer"]["status"] == "graded" and float(table["killer"]["total"]) <= FULL
    used = set()
    for sid in table:
        document = json.loads((out / "results" / f"{sid}.json").read_text())["gradescope"]
        validate(document)
        used.add(document["extra_data"]["isolation_checks"]["uid"])
    assert len(used) >= 2  # two graders at once, never one uid
    for uid in used:
        assert uids.processes_of(uid) == [] and uids.files_of(uid) == []


# ---- 9. stale cgroups ------------------------------------------------------------------------------

@needs_user
@pytest.mark.skipif(cgroup._base() is None, reason="no writable pids cgroup tree here")
def test_cgroups_of_a_killed_grader_are_reclaimed_at_the_next_start(tmp_path, grader_tmp):
    hang = corpus.build(tmp_path / "hang", {"activations.py": [("return np.maximum(Z, 0.0)",
                                                                "import time; time.sleep(600)")]})
    env = dict(os.environ, TMPDIR=str(grader_tmp))
    grader = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", str(hang), "--no-notebook",
                               "--isolation", "user", "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = cgroup._base()
    stale, deadline = [], time.monotonic() + GRADE_BOUND
    try:
        while time.monotonic() < deadline and not stale:  # wait for its worker to sit in its cgroup
            stale = [p for p in base.glob(f"pa3-worker-{grader.pid}-*") if cgroup.PidsCgroup(p).pids()]
            time.sleep(0.05)
        assert stale, "the grader never started a worker in a cgroup"
    finally:
        grader.kill()  # no chance to clean up
        grader.wait()
    left = cgroup.PidsCgroup(stale[0]).pids()
    assert left, "the worker should have outlived its grader"
    assert [p.name for p in grader_tmp.iterdir()]  # and its workspace too
    grade_cli(corpus.build(tmp_path / "next"), tmp_path, grader_tmp, "user")
    assert not stale[0].exists()
    assert not any(alive(pid) for pid in left)
    # grader_tmp is empty again (checked by the fixture): the next grader removed the killed one's workspace


@needs_user
def test_a_batch_timeout_leaves_no_process_of_the_killed_grader(tmp_path, grader_tmp, monkeypatch):
    from grader.batch.task import grade_one
    from grader.options import GradeOptions

    marker = f"pa3stranded{time.monotonic_ns()}"
    spawn = (f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
             f"'{marker}'], start_new_session=True)\nwhile True:\n    pass\n")
    # 20 s calls
    folder = corpus.build(tmp_path / "hang", {"model.py": [("import numpy as np\n", "import numpy as np\n" + spawn)]})
    monkeypatch.setenv("TMPDIR", str(grader_tmp))
    outcome = grade_one(str(folder), GradeOptions(notebook=False, isolation="user"), timeout=8)
    # The grader's own deadline (derived from the batch timeout) usually stops it first, and on a quick machine
    # its call limits may end every test before that deadline; killed, stopped or finished, nothing the
    # submission started may survive, and whatever did not kill the grader wrote its results.
    assert outcome["status"] in {"timeout", "graded"}, outcome["message"]
    if outcome["status"] == "graded" or "results were written" in outcome["message"]:
        assert outcome["gradescope"]["tests"]
    assert not any(marker in p for p in _cmdlines())
    for workspace in grader_tmp.iterdir():  # a killed grader's workspace goes with the next grading there
        fstree.remove_tree(workspace)


def _cmdlines() -> list[str]:
    found = []
    for pid in Path("/proc").iterdir():
        if pid.name.isdigit() and alive(int(pid.name)):
            try:
                found.append((pid / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                pass
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent to collect it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


UNPRIVILEGED_INTAKE = '''
import json, shutil, sys, tempfile
from pathlib import Path
from grader.submission import take
out = Path(tempfile.mkdtemp())  # the machine's /tmp: the test's folder is not writable by this uid
try:
    intake = take(Path(sys.argv[1]), out)
    print(json.dumps({"files": sorted(intake.files), "problems": intake.problems, "notes": intake.notes}))
finally:
    shutil.rmtree(out)
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the intake as another uid")
def test_unreadable_entries_are_noted_and_the_rest_taken(grader_tmp):
    """Files and folders the grader itself cannot read (a TA's folder, a grader without root)."""
    folder = corpus.build(grader_tmp / "sub")
    secret = folder / "private"
    secret.mkdir()
    (secret / "notes.txt").write_text("x")
    for path in [folder, *folder.iterdir(), secret / "notes.txt"]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    secret.chmod(0)
    (folder / "layers.py").chmod(0)
    run = subprocess.run(["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups", "--",
                          sys.executable, "-c", UNPRIVILEGED_INTAKE, str(folder)],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, TMPDIR=str(grader_tmp)))
    assert run.returncode == 0, run.stderr[-2000:]
    intake = json.loads(run.stdout)
    assert "layers.py" not in intake["files"] and "activations.py" in intake["files"]
    assert "layers.py is missing from the submission" in intake["problems"]["layers.py"]
    notes = "\n".join(intake["notes"])
    assert "'layers.py': cannot be read (Permission denied)" in notes and "'private': cannot be" in notes
    fstree.remove_tree(folder)
    for leftover in grader_tmp.iterdir():  # the unprivileged intake's own output folder
        fstree.remove_tree(leftover)


def test_batch_packs_a_hostile_folder_for_a_cluster_without_raising(tmp_path):
    import io
    import zipfile

    from grader.batch.task import pack_submission

    folder = hostile.odd_names(tmp_path / "odd")
    hostile._chain(folder, hostile.DEEP)
    os.mkfifo(folder / "pipe.py")  # would block a reader that opens it
    os.symlink("/etc/passwd", folder / "passwd.py")
    names = zipfile.ZipFile(io.BytesIO(pack_submission(folder))).namelist()
    assert set(corpus.SUBMITTED) <= set(names)
    assert "pipe.py" not in names and "passwd.py" not in names and max(n.count("/") for n in names) <= 32
    assert zipfile.ZipFile(io.BytesIO(pack_submission(tmp_path / "missing"))).namelist() == []  # graded as empty
