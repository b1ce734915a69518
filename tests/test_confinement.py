"""Confinement at the user and process levels (issue 21): what student code can read, its /tmp, its network.

Everything a TA's class folder holds is world-readable here (as on a shared machine or in a container),
so only the sandbox's own confinement (Landlock, the seccomp filter, the private /tmp) stands between a
submission and its classmates: each test first shows that the attack works where it is not confined.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

from grader import TEMPLATE_DIR, fashion_data, fstree
from grader.sandbox import confinement, isolation
from grader.sandbox.runtime import confine
from tests import corpus, student_notebooks

FULL = 104.0
BOUND = 600  # seconds: catches hangs only (a --no-notebook grading takes a few seconds here)
needs_user = pytest.mark.skipif(isolation.unavailable_reason("user") is not None,
                                reason="the user level needs root and a runtime readable by others")
needs_landlock = pytest.mark.skipif(not confinement.supported() or confine.landlock_abi() < 1,
                                    reason="Landlock is not available on this kernel")
LEVELS = [pytest.param("user", marks=needs_user), "process"]


@pytest.fixture
def open_folder():
    """A world-readable folder outside pytest's private tree, like a TA's class folder; removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="pa3-class-"))
    folder.chmod(0o755)
    yield folder
    fstree.remove_tree(folder)


def open_to_all(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


# ---- what it can read -------------------------------------------------------------------------------

# Appended to each of the template's modules: look for the same module, finished, wherever it can (the
# command lines of every process, the folders above its own, homes, /tmp, the machine's work folders), and
# run the first one found in its own place.
SEARCHER = '''

def _pa3_search(_name, _budget=20000):
    import os as _o, time as _t
    _start, _here = _t.monotonic(), _o.path.dirname(_o.path.abspath(__file__))
    _places = []
    try:
        for _pid in _o.listdir("/proc"):
            try:
                with open(f"/proc/{_pid}/cmdline", "rb") as _f:
                    _args = _f.read().split(b"\\0")
            except OSError:
                continue
            for _a in _args:
                _a = _a.decode(errors="ignore")
                if _a.startswith("/"):
                    _places += [_a, _o.path.dirname(_a)]
    except OSError:
        pass
    _up = _here
    for _ in range(4):
        _up = _o.path.dirname(_up)
        _places.append(_up)
    _places += ["/tmp", "/var/tmp", "/root", "/home", "/work"]
    for _top in dict.fromkeys(_places):
        _todo = [_top]
        while _todo and _budget > 0 and _t.monotonic() - _start < 3:
            _d = _todo.pop()
            try:
                _entries = list(_o.scandir(_d))
            except OSError:
                continue
            for _e in _entries:
                _budget -= 1
                if _e.is_dir(follow_symlinks=False) and _e.name not in (".git", ".venv", "site-packages"):
                    _todo.append(_e.path)
                elif _e.name == _name and _d != _here:
                    try:
                        with open(_e.path) as _f:
                            _src = _f.read()
                    except OSError:
                        continue
                    if "not implemented yet" not in _src and "_pa3_search" not in _src:
                        return _src
    return None


_pa3_found = _pa3_search(__name__ + ".py")
if _pa3_found:
    exec(compile(_pa3_found, __name__ + ".py", "exec"), globals())
'''
SEARCHING_MODULES = ("activations", "layers", "loss", "model")


def searching_submission(dest: Path) -> Path:
    """The template's stubs, each module searching the disk for a finished copy of itself."""
    shutil.copytree(TEMPLATE_DIR, dest)
    for module in SEARCHING_MODULES:
        path = dest / f"{module}.py"
        path.write_text(path.read_text() + SEARCHER)
    return dest


def test_the_searcher_finds_a_classmates_code_where_nothing_confines_it(open_folder):
    """The attack works: unconfined, as an unprivileged uid ("other" permissions only), it runs a classmate's relu."""
    corpus.build(open_folder / "alice")
    searching_submission(open_folder / "mallory")
    open_to_all(open_folder)
    code = "import numpy as np, activations; print(activations.ReLU().forward(np.array([-1.0, 2.0])).tolist())"
    prefix = ["setpriv", "--reuid=54321", "--regid=54321", "--clear-groups", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {code}"],
                          cwd=open_folder / "mallory", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[0.0, 2.0]", done.stderr[-2000:]


@needs_user
@needs_landlock
def test_a_class_with_a_disk_searcher_at_the_user_level(open_folder):
    """``pa3 batch --workers 2 --isolation user``: the searcher earns no more than its stubs, classmates keep
    everything, and every row's start-up check says the gradings were confined."""
    classroom = open_folder / "class"
    corpus.build(classroom / "alice")
    corpus.zip_folder(corpus.build(open_folder / "bob-src"), classroom / "bob.zip")
    corpus.build(classroom / "carol")
    shutil.copytree(TEMPLATE_DIR, classroom / "stubs")
    searching_submission(classroom / "mallory")
    open_to_all(open_folder)
    out = open_folder / "out"
    done = subprocess.run([sys.executable, "-m", "grader.cli", "batch", str(classroom), "--out", str(out),
                           "--workers", "2", "--isolation", "user", "--no-notebook"],
                          capture_output=True, text=True, timeout=BOUND)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    scores = {name: float(row["total"]) for name, row in rows.items()}
    assert {scores["alice"], scores["bob"], scores["carol"]} == {FULL}, scores
    assert scores["mallory"] <= scores["stubs"] < FULL, scores
    for name in rows:
        row = json.loads((out / "results" / f"{name}.json").read_text())
        checks = row["gradescope"]["extra_data"]["isolation_checks"]
        assert checks["confined"] is True, checks["confinement"]
        probe = checks["confinement_probe"]
        assert probe["readable"] == [] and probe["network"] == "unreachable"
        assert str(classroom) in probe["tried"]  # the batch input folder was tried, as was each classmate


@pytest.mark.parametrize("level", LEVELS)
@needs_landlock
def test_the_start_up_check_tries_the_folders_around_and_says_confined(level, open_folder):
    (open_folder / "layers.py").write_text("# a classmate's\n")
    open_to_all(open_folder)
    checks = confinement.probe(level, [open_folder])
    assert checks["confined"] is True, checks
    assert {str(open_folder), str(open_folder / "layers.py")} <= set(checks["confinement_probe"]["tried"])
    assert checks["confinement_probe"]["readable"] == [] and checks["confinement_probe"]["network"] == "unreachable"
    assert checks["confinement_probe"]["tmp"] in ("private", "closed")


@pytest.mark.parametrize("level", [pytest.param("bwrap", marks=pytest.mark.skipif(
    isolation.unavailable_reason("bwrap") is not None, reason="bubblewrap cannot run here")), *LEVELS])
def test_the_folder_that_holds_the_runtime_is_not_taken_for_a_readable_one(level):
    """A TA runs the grader from the clone that holds its venv: bwrap makes that folder to mount the venv
    through, so it lists only the venv. That is not a place the submission can read."""
    holder = Path(sys.prefix).resolve().parent
    checks = confinement.probe(level, [holder])
    assert str(holder) in checks["confinement_probe"]["tried"]
    assert checks["confinement_probe"]["readable"] == [], checks
    if level == "bwrap" or confinement.supported():
        assert checks["confined"] is True, checks


def test_callers_whose_arguments_are_not_paths_are_passed_over(open_folder):
    """A CI runner starts the grader from ``bash -c SCRIPT`` (a whole script, over 255 characters per
    line): the folders its callers name are still found and the check does not fail on the rest."""
    (open_folder / "class").mkdir()
    script = "echo " + "x" * 300 + "\n" + "/" * 5 + "y" * 5000
    code = "from grader.sandbox import confinement; print([str(p) for p in confinement.named_by_callers()])"
    done = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "{code}"; :', "sh", script, "z" * 300,
                           str(open_folder / "class")], capture_output=True, text=True, timeout=BOUND,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert str(open_folder / "class") in done.stdout


@pytest.mark.parametrize("level", LEVELS)
def test_the_start_up_check_says_not_confined_when_the_launcher_confines_nothing(level, open_folder, monkeypatch):
    """The check is a probe, not a belief: with an empty policy it finds the folder beside it and the port."""
    (open_folder / "layers.py").write_text("# a classmate's\n")
    open_to_all(open_folder)
    monkeypatch.setattr(confinement, "policy", lambda level, mounts, private, uid: {"uid": uid})
    checks = confinement.probe(level, [open_folder])
    assert checks["confined"] is False and checks["confinement"].startswith("NOT CONFINED")
    assert checks["confinement_probe"]["network"] == "reachable"
    assert str(open_folder / "layers.py") in checks["confinement_probe"]["readable"]


# ---- the network ------------------------------------------------------------------------------------

class Listener:
    """A TCP port and a UDP port on 127.0.0.1 that count what reaches them."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.reached: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def ports(self) -> tuple[int, int]:
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def _serve(self) -> None:
        while not self.stop.is_set():
            for sock, kind in ((self.tcp, "tcp"), (self.udp, "udp")):
                try:
                    if kind == "tcp":
                        sock.accept()[0].close()
                    else:
                        sock.recv(100)
                    self.reached.append(kind)
                except OSError:
                    pass

    def close(self) -> list[str]:
        self.stop.set()
        self.thread.join(timeout=5)
        self.tcp.close()
        self.udp.close()
        return self.reached


CALLER = '''
import socket as _s
_tried = []
for _family, _kind, _addr in ((_s.AF_INET, _s.SOCK_STREAM, ("127.0.0.1", {tcp})),
                              (_s.AF_INET6, _s.SOCK_STREAM, ("::1", {tcp})),
                              (_s.AF_INET, _s.SOCK_DGRAM, ("127.0.0.1", {udp}))):
    try:
        _c = _s.socket(_family, _kind)
        _c.settimeout(2)
        _c.connect(_addr)
        _c.send(b"hello")
        _tried.append("sent")
    except OSError as _e:
        _tried.append(type(_e).__name__)
# A Dask client starts an event-loop thread that outlives a failed connection, and a call that leaves a thread
# running ends the worker: it is tried in a child process the import waits for (the filter is inherited).
import subprocess as _sp, sys as _sys
_dask = _sp.run([_sys.executable, "-c", "import distributed, os\\ntry:\\n    "
                 "distributed.Client('tcp://127.0.0.1:{tcp}', timeout=2)\\n    print('dask client')\\n"
                 "except Exception as e:\\n    print(type(e).__name__)\\nos._exit(0)"],
                capture_output=True, text=True, timeout=60)
_tried.append(_dask.stdout.strip() or "no answer")
print("NETWORK", _tried)
'''


def calling_submission(dest: Path, tcp: int, udp: int) -> Path:
    """The reference, whose activations.py calls out at import (a local port, a Dask scheduler's address)."""
    payload = CALLER.format(tcp=tcp, udp=udp)
    return corpus.build(dest, {"activations.py": [("import numpy as np\n", "import numpy as np\n" + payload)]})


@pytest.mark.parametrize("level", LEVELS)
def test_a_submission_reaches_no_listening_port(level, open_folder):
    listener = Listener()
    try:
        control = socket.create_connection(("127.0.0.1", listener.ports[0]), timeout=2)  # the port does listen
        control.close()
        submission = calling_submission(open_folder / "caller", *listener.ports)
        open_to_all(open_folder)
        results = open_folder / f"results-{level}.json"
        done = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(submission), "--no-notebook",
                               "--isolation", level, "--results", str(results)],
                              capture_output=True, text=True, timeout=BOUND)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        reached = listener.close()
    document = json.loads(results.read_text())
    assert reached == ["tcp"]  # the control connection only
    assert document["score"] == FULL  # refused sockets are errors its own code catches: the rest is graded
    assert document["extra_data"]["isolation_checks"]["confined"] is True


# ---- a private /tmp ---------------------------------------------------------------------------------

SAVE_BEST = '''
    if val_accuracies[-1] >= max(val_accuracies):
        torch.save(model.state_dict(), "/tmp/pa3_best_model.pt")
model.load_state_dict(torch.load("/tmp/pa3_best_model.pt"))
with open("/tmp/pa3_owner.txt", "w") as f:
    f.write("{name}")
import time
time.sleep(2)
with open("/tmp/pa3_owner.txt") as f:
    assert f.read() == "{name}", "another grading wrote this file"'''


def tmp_user_notebook(name: str) -> nbformat.NotebookNode:
    """The base Colab notebook, keeping its best model in /tmp under a fixed name (a common habit)."""
    nb = student_notebooks.notebook("base")
    train = next(c for c in nb.cells if "for epoch in range" in c.source)
    train.source += SAVE_BEST.format(name=name)
    return nb


@needs_user
@pytest.mark.slow
def test_two_concurrent_kernels_writing_the_same_tmp_path_keep_their_grades(open_folder):
    """Both notebooks save to /tmp/pa3_best_model.pt at once, after a third uid made that file first: each
    kernel sees only its own /tmp (a mount namespace here; where none can be made the machine's /tmp is
    closed to it instead, and the start-up check says so)."""
    data = open_folder / "fmnist"
    fashion_data.synth(data, 2000, 1000, seed=0)
    planted = Path("/tmp/pa3_best_model.pt")
    planted_before = planted.exists()
    if not planted_before:
        planted.write_bytes(b"a classmate's file")
        os.chown(planted, 54321, 54321)
    try:
        runs = []
        for name in ("ann", "ben"):
            submission = corpus.build(open_folder / name)
            nbformat.write(tmp_user_notebook(name), str(submission / "PA3.ipynb"))
            open_to_all(submission)
            results = open_folder / f"{name}.json"
            runs.append((results, subprocess.Popen(
                [sys.executable, "-m", "grader.cli", "grade", str(submission), "--isolation", "user", "--data-dir",
                 str(data), "--results", str(results)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
        for _, run in runs:
            _, err = run.communicate(timeout=BOUND)
            assert run.returncode == 0, err[-3000:]
    finally:
        if not planted_before:
            planted.unlink(missing_ok=True)
    for results, _ in runs:
        document = json.loads(results.read_text())
        checks = document["extra_data"]["isolation_checks"]
        section2 = {t["number"]: t for t in document["tests"] if t["number"].startswith("2.")}
        if checks["confinement_probe"]["tmp"] == "private":
            assert document["score"] == 148.0, {n: t["output"][:300] for n, t in section2.items() if t["score"] < 1}
        else:  # no mount namespace here: the shared /tmp is closed, and the grading says so
            assert "the machine's /tmp is closed" in checks["confinement"]


@pytest.mark.parametrize("level", LEVELS)
def test_the_notebook_kernel_reaches_no_listening_port_and_no_shared_tmp(level, open_folder):
    """The kernel is started through the same launcher: ZMQ's ipc:// sockets work, TCP and UDP do not."""
    from grader.notebook.kernel import SandboxedKernel
    from grader.notebook.run import execute

    listener = Listener()
    marker = Path(tempfile.mkstemp(prefix="pa3-another-grading-", dir="/tmp")[1])
    marker.chmod(0o644)
    folders = {name: open_folder / name for name in ("work", "export", "scratch")}
    for folder in folders.values():
        folder.mkdir(mode=0o711)
    nb = nbformat.v4.new_notebook()
    tcp, udp = listener.ports
    nb.cells = [nbformat.v4.new_code_cell(CALLER.format(tcp=tcp, udp=udp)),
                nbformat.v4.new_code_cell("import os\ntry:\n    print(os.listdir('/tmp'))\n"
                                          "except PermissionError as e:\n    print('closed', e)"),
                # what confinement must leave working: shell lines (a pty), DataLoader workers (fork, /dev/shm)
                nbformat.v4.new_code_cell("!echo shell-ok\nimport torch\nfrom torch.utils.data import DataLoader\n"
                                          "print(sum(len(b) for b in DataLoader(torch.arange(64), batch_size=8, "
                                          "num_workers=2)))")]
    try:
        kernel = SandboxedKernel(level, folders["work"], None, folders["export"], folders["scratch"])
        run = execute(nb, kernel, 120, 300)
    finally:
        reached = listener.close()
        marker.unlink()
    assert run.stopped is None and not run.errors, (run.stopped, [str(e) for e in run.errors])
    printed = "".join(o.get("text", "") for o in run.notebook.cells[0].outputs)
    assert "NETWORK" in printed and "sent" not in printed, printed
    assert reached == []
    listing = "".join(o.get("text", "") for o in run.notebook.cells[1].outputs)
    assert listing and marker.name not in listing  # its /tmp is its own (or closed): not the machine's
    assert "".join(o.get("text", "") for o in run.notebook.cells[2].outputs).split() == ["shell-ok", "64"]


@pytest.mark.parametrize("level", LEVELS)
@needs_landlock
def test_without_a_mount_namespace_the_shared_tmp_is_closed(level, open_folder, monkeypatch):
    """Where no mount namespace can be made (Docker's default profile), Landlock keeps /tmp closed instead."""
    policy = confinement.policy
    monkeypatch.setattr(confinement, "policy", lambda *args: {k: v for k, v in policy(*args).items() if k != "tmp"})
    checks = confinement.probe(level, [open_folder])
    assert checks["confined"] is True and checks["confinement_probe"]["tmp"] == "closed"
    assert "the machine's /tmp is closed to it (TMPDIR is private)" in checks["confinement"]


# ---- the launcher's pieces, each in a process of its own ---------------------------------------------

def run_confined(code: str) -> str:
    """``code`` after ``from grader.sandbox.runtime import confine`` in a fresh interpreter; its stdout."""
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = [{str(isolation.RUNTIME_DIR)!r}]\n"
                           f"import confine\n{code}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(confine.ARCHES.get(os.uname().machine) is None or not sys.platform.startswith("linux"),
                    reason="the seccomp filter is built for x86_64 and aarch64 Linux")
def test_the_network_filter_refuses_internet_sockets_and_keeps_unix_ones():
    out = run_confined("""
import ctypes, errno, socket
assert confine.no_network() is None
def attempt(make):
    try:
        make().close()
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]
print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
      attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)),
      attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)),
      attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)),   # audit: refused
      attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
      attempt(lambda: socket.socketpair()[0]),
      attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)))   # route: glibc reads addresses
libc = ctypes.CDLL(None, use_errno=True)
print(libc.syscall(425, 8, ctypes.create_string_buffer(120)), errno.errorcode[ctypes.get_errno()])  # io_uring_setup
""")
    sockets, uring = out.splitlines()
    assert sockets.split() == ["EACCES", "EACCES", "EACCES", "EACCES", "ok", "ok", "ok"]
    assert uring.split() == ["-1", "EACCES"]


@pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace is only tried as root")
def test_a_private_tmp_that_cannot_be_made_leaves_the_machines_view(open_folder):
    """A folder to keep that cannot be opened (or an LSM refusing mount): no half-made view, a reason instead."""
    marker = Path(tempfile.mkstemp(prefix="pa3-still-here-", dir="/tmp")[1])
    private = open_folder / "private"
    private.mkdir()
    try:
        out = run_confined(f"""
import os
print(confine.private_tmp({str(private)!r}, ["/tmp"], ["/tmp/pa3-no-such-folder-{os.getpid()}"]))
print(os.path.exists({str(marker)!r}))
""")
    finally:
        marker.unlink()
    reason, still_there = out.splitlines()
    assert reason.startswith("no private /tmp") and still_there == "True"


@needs_landlock
def test_a_grader_installed_in_site_packages_is_left_out_and_the_rest_kept(open_folder, monkeypatch):
    """Installed (the Docker image, the student bundle), the grader sits in site-packages beside what student code
    needs: that folder is then allowed entry by entry around the grader's own (and a link such as a venv's lib64
    counts as what it points to)."""
    import nbformat as installed

    site = Path(installed.__file__).resolve().parent.parent
    standing_in = site / "nbformat"  # plays the installed grader: a package student code does not need
    monkeypatch.setattr(confinement, "closed_trees", lambda: [standing_in])
    confinement.runtime_read.cache_clear()
    try:
        here = isolation.Mount(open_folder, "/probe", writable=True)
        code = ("import numpy, sys\nfor p in sys.argv[1:]:\n    try:\n        open(p).close(); print('read')\n"
                "    except OSError:\n        print('refused')")
        spec = isolation.wrap("process", [isolation.interpreter(), "-I", "-c", code, str(standing_in / "__init__.py"),
                                          str(site / "numpy" / "__init__.py")], [here], here)
        done = subprocess.run(spec.argv, capture_output=True, text=True, timeout=60, **spec.popen)
    finally:
        confinement.runtime_read.cache_clear()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["refused", "read"]


@needs_landlock
@pytest.mark.skipif(os.geteuid() != 0, reason="runs the check as another, unprivileged uid")
def test_an_unprivileged_grader_is_confined_too(open_folder):
    """`pa3 check` on a student's Linux machine: the process level without root is confined the same way, with a
    private /tmp where unprivileged user namespaces are on (else the machine's /tmp is closed)."""
    (open_folder / "layers.py").write_text("# a classmate's\n")
    open_to_all(open_folder)
    code = ("import json, sys; from pathlib import Path; from grader.sandbox import confinement\n"
            "print(json.dumps(confinement.probe('process', [Path(sys.argv[1])])))")
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", sys.executable, "-c",
                           code, str(open_folder)], capture_output=True, text=True, timeout=120, cwd=open_folder,
                          env={"HOME": str(open_folder), "PATH": os.environ["PATH"],
                               "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr[-2000:]
    checks = json.loads(done.stdout)
    assert checks["confined"] is True, checks
    assert checks["confinement_probe"]["tmp"] in ("private", "closed")
    assert str(open_folder / "layers.py") in checks["confinement_probe"]["tried"]
