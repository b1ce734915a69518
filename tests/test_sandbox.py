"""The sandbox: the codec never trusts the worker, and each isolation level holds what it promises."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from grader import PROJECT_ROOT
from grader.messages import explain
from grader.sandbox import errors, isolation
from grader.sandbox.client import Sandbox
from grader.sandbox.errors import CallTimedOut, StudentRaised, Unavailable, WorkerDied
from grader.sandbox.limits import Limits
from grader.sandbox.runtime.codec import Earlier, Handle, ProtocolError, decode, encode, read_frame, write_frame
from tests.helpers import processes_with

PROBE = '''
import os, socket, subprocess, sys, threading, time

def look(paths):
    return {p: os.path.exists(p) for p in paths}

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__

def identity():
    return {"pid": os.getpid(), "uid": os.getuid(), "env": dict(os.environ), "cwd": os.getcwd(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}

def spawn_orphans(marker):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", marker])
        os._exit(0)
    return True

def hang():
    while True:
        pass

def joined_threads():
    workers = [threading.Thread(target=sum, args=([1] * 1000,)) for _ in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return "joined"

def progress_bar():
    from tqdm import tqdm  # its monitor thread outlives the bar: the worker stops it (a habit, not an attack)
    return sum(tqdm(range(1000)))

def waited_child():
    return subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip()

def popen_child(marker):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
    return "spawned"

def lingering_thread():
    threading.Thread(target=time.sleep, args=(300,), daemon=True).start()
    return "left"

def forked_child():
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
    return "forked"

def thread_flood():
    while True:
        threading.Thread(target=time.sleep, args=(300,), daemon=True).start()

def echo(x):
    return x

class Acc:
    def __init__(self):
        self.total = 0
    def double(self, x):
        return x * 2
    def add(self, x):
        self.total += x
        return self.total
    def fail(self):
        raise ValueError("stop here")
'''


@pytest.fixture
def probe_dir(tmp_path) -> Path:
    tmp_path.chmod(0o711)
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE)
    return folder


# ---- codec --------------------------------------------------------------------------------

def test_codec_round_trips_plain_values():
    value = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": [1, 2.5, None, True, "x"],
             "c": (np.float64(3.5), np.array([[True, False]])), "d": Handle(7, "ReLU")}
    tree, buffers = encode(value)
    back = decode(json.loads(json.dumps(tree)), buffers)
    assert back["a"].dtype == np.int32 and np.array_equal(back["a"], value["a"])
    assert back["b"] == value["b"] and back["c"][0] == 3.5 and back["c"][1].dtype == bool
    assert isinstance(back["d"], Handle) and back["d"].type_name == "ReLU"


@pytest.mark.parametrize("dtype", ["O", "|O", "V8", "<U4", "S3", "M8[s]", "not-a-dtype", 5])
def test_codec_refuses_anything_but_plain_numbers(dtype):
    with pytest.raises(ProtocolError):
        decode({"$a": 0, "dtype": dtype, "shape": [1]}, [b"\0" * 8])


@pytest.mark.parametrize("tree,buffers", [
    ({"$a": 0, "dtype": "<f8", "shape": [3]}, [b"\0" * 8]),        # size does not match the buffer
    ({"$a": 1, "dtype": "<f8", "shape": [1]}, [b"\0" * 8]),        # no such buffer
    ({"$a": 0, "dtype": "<f8", "shape": [-1]}, [b"\0" * 8]),       # negative dimension
    ({"weird": 1}, []),                                             # unknown object
    ({"$d": [[1, 2]]}, []),                                         # dict with a non-string key
])
def test_codec_refuses_malformed_values(tree, buffers):
    with pytest.raises(ProtocolError):
        decode(tree, buffers)


def test_codec_refuses_deep_nesting_and_huge_frames():
    deep = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError):
        decode(deep, [])
    r, w = os.pipe()
    os.write(w, struct.pack("<II", 1 << 30, 0))
    with pytest.raises(ProtocolError, match="too large"):
        read_frame(r)
    os.close(r)
    os.close(w)


def test_codec_never_unpickles(tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    evil = pickle.dumps(type("E", (), {"__reduce__": lambda self: (open, (str(marker), "w"))})())
    r, w = os.pipe()
    write_frame(w, {"ok": {"$a": 0, "dtype": "O", "shape": [1]}}, [evil])
    message, buffers = read_frame(r)
    with pytest.raises(ProtocolError):
        decode(message["ok"], buffers)
    assert not marker.exists()


# ---- isolation ----------------------------------------------------------------------------

needs_bwrap = pytest.mark.skipif(isolation.unavailable_reason("bwrap") is not None, reason="bubblewrap not available")


@needs_bwrap
def test_bwrap_worker_sees_only_the_runtime_and_its_submission(probe_dir):
    secret_paths = [str(PROJECT_ROOT / "grader"), str(PROJECT_ROOT / "test_specs"), str(PROJECT_ROOT / "reference"),
                    str(probe_dir.parent), "/etc/passwd", "/etc/shadow", "/home", "/var", "/root/.cache"]
    with Sandbox(probe_dir, "bwrap") as sb:
        seen = sb.new("probe", "look", secret_paths)
        me = sb.new("probe", "identity")
        assert me["cwd"] == isolation.SUBMISSION_IN_SANDBOX
    assert not any(seen.values()), seen
    assert me["uid"] == (isolation.sandbox_uid() if isolation.drops_privileges("bwrap") else isolation.SANDBOX_UID)
    assert os.getpid() not in me["pids"] and me["pid"] < 10  # its own PID namespace


@needs_bwrap
def test_a_venv_reached_through_a_symbolic_link_still_starts_workers(probe_dir, tmp_path):
    """A linked home folder or macOS's /tmp: the worker runs from the venv's real folder, which bwrap binds."""
    link = tmp_path / "linked-venv"
    link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    script = ("import sys; from pathlib import Path; from grader.sandbox.client import Sandbox\n"
              "with Sandbox(Path(sys.argv[1]), 'bwrap') as sb:\n"
              "    print(sb.new('probe', 'echo', 41) + 1, sb.new('probe', 'identity')['uid'])\n")
    done = subprocess.run([str(link / "bin" / "python"), "-c", script, str(probe_dir)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    answer, uid = done.stdout.split()
    assert answer == "42" and int(uid) != os.geteuid()  # started, and as an unprivileged uid


def test_sandboxed_workers_have_no_network(probe_dir):
    """bwrap's network namespace, and elsewhere the launcher's seccomp filter (issue 21)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        for level in ("bwrap", "user", "process"):
            if isolation.unavailable_reason(level) is None:
                with Sandbox(probe_dir, level) as sb:
                    assert sb.new("probe", "connect", port) != "connected", level
        with Sandbox(probe_dir, "none") as sb:  # the same probe does reach it unsandboxed
            assert sb.new("probe", "connect", port) == "connected"
    finally:
        server.close()


@pytest.mark.parametrize("level", ["bwrap", "process"])
def test_worker_environment_is_scrubbed(probe_dir, monkeypatch, level):
    if isolation.unavailable_reason(level):
        pytest.skip(isolation.unavailable_reason(level))
    monkeypatch.setenv("PA3_SECRET_TOKEN", "do-not-leak")
    with Sandbox(probe_dir, level) as sb:
        env = sb.new("probe", "identity")["env"]
    assert "PA3_SECRET_TOKEN" not in env and set(env) <= set(isolation.worker_env()) | {"PWD", "_", "SHLVL", "LC_CTYPE",
                                                                        "PA3_CONFINEMENT"}


@pytest.mark.parametrize("use_cgroup", [True, False])
def test_orphans_are_killed_at_process_level(probe_dir, use_cgroup):
    """Without bwrap's PID namespace: the pids cgroup, or else the subreaper sweep, finds every escapee."""
    marker = f"pa3probe{uuid.uuid4().hex[:10]}"
    with Sandbox(probe_dir, "process", use_cgroup=use_cgroup) as sb:
        with pytest.raises(WorkerDied, match=r"left \d+ threads or processes running after it returned"):
            sb.new("probe", "spawn_orphans", marker)  # both found, in the tree or among the grader's orphans
        assert processes_with(marker) == []


@pytest.mark.parametrize("level,use_cgroup", [("auto", True), ("process", True), ("process", False)])
def test_a_call_that_leaves_anything_running_ends_the_worker_at_once(probe_dir, level, use_cgroup):
    """A thread or process still running when a call returns could write to the grader's pipes later (a forked
    one holds them, an exec'd one can open them through /proc): the worker is replaced before the next call
    and the charge is that call's, whatever the machine's speed. Joined threads, a waited child and a tqdm
    progress bar are fine. Without a cgroup (use_cgroup=False) the grader finds them in the worker's tree."""
    marker = f"pa3probe{uuid.uuid4().hex[:10]}"
    # Room for threads even where the task limit is an RLIMIT_NPROC shared with the user's other processes.
    with Sandbox(probe_dir, level, Limits(processes=4096), use_cgroup=use_cgroup) as sb:
        assert sb.new("probe", "joined_threads") == "joined"
        assert sb.new("probe", "waited_child") == "42"
        assert sb.new("probe", "progress_bar") == 499500
        assert sb.restarts == 0
        for name, args, left in (("lingering_thread", (), "1 thread or process"),
                                 ("forked_child", (), "1 thread or process"),
                                 ("popen_child", (marker,), "1 thread or process"),
                                 ("thread_flood", (), "[0-9]+ threads or processes")):
            with pytest.raises(WorkerDied, match=f"left {left} running after it returned"):
                sb.new("probe", name, *args)
            assert sb._proc is None  # stopped now, not at the next call
        assert processes_with(marker) == []
        assert sb.new("probe", "echo", 5) == 5
        assert sb.restarts == 4


def test_a_call_cut_short_by_the_grading_deadline_is_stopped_not_an_infinite_loop(probe_dir):
    """The wait ends at the deadline, not at the call's own limit: the student is not told "infinite loop",
    and the test reads as cut short (grade.py counts those for the TA); later calls are not run."""
    import time

    with Sandbox(probe_dir, "auto", call_timeout=60.0) as sb:
        sb.new("probe", "echo", 1)  # the worker is up: only the call itself meets the deadline
        sb.deadline_at, sb.deadline_reason = time.monotonic() + 1.0, "the grading deadline was reached"
        start = time.monotonic()
        with pytest.raises(Unavailable) as raised:
            sb.new("probe", "hang")
        assert explain(raised.value) == "stopped: the grading deadline was reached"  # the sandbox gives facts
        assert raised.value.started and raised.value.reason == "the grading deadline was reached"
        assert time.monotonic() - start < 30  # the deadline, never the call's 60 s
        with pytest.raises(Unavailable, match="^the grading deadline was reached$") as raised:
            sb.new("probe", "echo", 2)
        assert explain(raised.value) == "not run: the grading deadline was reached"


def test_timeout_kills_the_worker_and_the_next_call_gets_a_new_one(probe_dir):
    with Sandbox(probe_dir, "auto", call_timeout=1.0) as sb:
        first = sb.new("probe", "identity")["pid"]
        with pytest.raises(CallTimedOut):
            sb.new("probe", "hang")
        with pytest.raises(Unavailable, match="not called again"):
            sb.new("probe", "hang")
        assert sb.new("probe", "echo", 5) == 5
        assert sb.restarts == 1
        if sb.level == "process":
            assert sb.new("probe", "identity")["pid"] != first


def test_student_exceptions_and_deaths_are_reported(probe_dir):
    (probe_dir / "bad.py").write_text("import os\ndef boom():\n    raise ValueError('nope')\n"
                                      "def die():\n    os._exit(7)\ndef leave():\n    raise SystemExit(2)\n")
    with Sandbox(probe_dir, "auto") as sb:
        with pytest.raises(StudentRaised) as raised:
            sb.new("bad", "boom")
        assert raised.value.type_name == "ValueError" and "bad.py" in raised.value.traceback
        with pytest.raises(WorkerDied, match="exited with code 7"):
            sb.new("bad", "die")
        with pytest.raises(StudentRaised, match="SystemExit"):
            sb.new("bad", "leave")
        assert sb.new("probe", "echo", [1, 2]) == [1, 2]


@pytest.mark.parametrize("level", ["auto", "none"])
def test_a_sequence_is_one_round_trip_that_passes_results_on(probe_dir, level):
    with Sandbox(probe_dir, level) as sb:
        acc = sb.new("probe", "Acc")
        results = sb.sequence([acc.step("double", np.arange(3.0), keep=False), acc.step("double", Earlier(0)),
                               acc.step("add", 5)], timeout=5, key="Acc")
        assert results[0] is None and np.array_equal(results[1], [0.0, 4.0, 8.0]) and results[2] == 5
        with pytest.raises(StudentRaised, match="stop here"):
            sb.sequence([acc.step("add", 1), acc.step("fail"), acc.step("add", 100)], timeout=5, key="Acc")
        assert acc.get("total") == 6  # ran up to the failing call, and no further


def test_none_level_says_it_is_not_isolated(probe_dir):
    with Sandbox(probe_dir, "none") as sb:
        assert "NO isolation" in sb.description
        assert np.array_equal(sb.new("probe", "echo", np.eye(2)), np.eye(2))


def test_unavailable_levels_explain_themselves():
    assert "unknown isolation level" in isolation.unavailable_reason("chroot")
    if os.geteuid() == 0 and not isolation.can_drop_privileges():
        assert "not readable by an unprivileged user" in isolation.unavailable_reason("user")
    with pytest.raises(errors.IsolationUnavailable, match="--isolation chroot"):
        isolation.resolve("chroot")


@pytest.mark.skipif(isolation.unavailable_reason("user") is not None, reason="user isolation not available here")
def test_user_level_runs_as_nobody(probe_dir):
    with Sandbox(probe_dir, "user") as sb:
        assert sb.new("probe", "identity")["uid"] == isolation.sandbox_uid() != isolation.SANDBOX_UID


def test_stopping_a_worker_spares_the_graders_other_children(probe_dir):
    """The orphan sweep takes what the worker left, not the processes the grading process already had
    (a notebook calling check(), a test runner, a batch's other work)."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with Sandbox(probe_dir, "auto") as sb:
            assert sb.new("probe", "echo", 1) == 1
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_memory_cgroups_of_a_killed_grader_are_reclaimed():
    from grader.sandbox import cgroup, memcg

    if not memcg.available():
        pytest.skip("no writable memory controller here (needs root and cgroups)")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    base, _ = memcg._base()
    stale = base / f"{memcg.PREFIX}{gone.pid}-1-0123456789ab"  # named after a grader that no longer runs
    stale.mkdir()
    cgroup._swept.discard(memcg.PREFIX)  # as in a grader that has not yet made one
    fresh = memcg.MemoryCgroup.create(1 << 30)
    try:
        assert not stale.exists()
        assert memcg.NAME.match(fresh.path.name)  # and the new one says whose it is
    finally:
        fresh.kill_all()
