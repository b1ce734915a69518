"""Hostile submissions aimed at the grader's bounds (protocol, memory, disk, time, output), and a
runner that grades one in a separate `pa3 grade` process while sampling that process's memory.

Every hostile submission carries a unique marker: in its environment (inherited by anything it
starts) and in the name of every file it writes, so leftovers can be found without confusing
them with other processes of the sandbox uid on the same machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from grader import PROJECT_ROOT
from grader.sandbox import scratch
from grader.sandbox.limits import Limits
from tests import corpus

# The return line of every graded member, by file.
MEMBERS = {
    "activations.py": ["return np.maximum(Z, 0.0)", "return dY * (Z > 0)",
                       "return exps / exps.sum(axis=1, keepdims=True)",
                       "return Y * (dY - np.sum(Y * dY, axis=1, keepdims=True))"],
    "layers.py": ["return self.activation(Z)", 'return dLdZ @ self.parameters["W"].T'],
    "loss.py": ["return -np.sum(Y * np.log(Y_hat)) / m", "return -Y / (m * Y_hat)"],
    "model.py": ["        return X\n        # END SOLUTION", "        return L\n",
                 "return Y_hat, self.loss.forward(Y, Y_hat)"],
}
RELU_FORWARD = "return np.maximum(Z, 0.0)"

PRELUDE = '''import numpy as np
import os as _os, stat as _stat, struct as _struct, sys as _sys, threading as _threading, time as _time
_MARK = "{marker}"
_os.environ["PA3_HOSTILE_MARKER"] = _MARK


def _pipes():
    found = []
    for fd in range(3, 512):
        try:
            if _stat.S_ISFIFO(_os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found


def _spray(data):
    """Write ``data`` to every pipe this process holds: one of them is the grader's reply channel."""
    for fd in _pipes():
        try:
            _os.write(fd, data)
        except OSError:
            pass


def _frame(body, lengths=()):
    return _struct.pack("<II", len(body), len(lengths)) + body + b"".join(_struct.pack("<Q", n) for n in lengths)
'''

# ---- the worker protocol (issue item 3): each returns the right value after its attack --------------

PROTOCOL = {
    "forged_reply": '_spray(_frame(b\'{"id":0,"ok":1e9}\'))',
    "deeply_nested_frame": "_spray(_frame(b'[' * 100000 + b']' * 100000))",
    "oversized_frame_header": "_spray(_struct.pack('<II', 0xFFFFFFFF, 0xFFFFFFFF))",
    "claims_gigabyte_buffer": ("_spray(_frame(b'{\"id\":0,\"ok\":{\"$a\":0,\"dtype\":\"<f8\",\"shape\":[134217728]}}', "
                               "[1 << 30]))"),
    "malformed_json": "_spray(_frame(b'{\"id\": 1, \"ok\": [1, 2, '))",
    "closes_protocol_pipes": "[_os.close(fd) for fd in _pipes()]",
    "steals_requests": ("_threading.Thread(target=lambda: [_os.read(fd, 1 << 16) for _ in iter(int, 1) "
                        "for fd in _pipes()], daemon=True).start()"),
    "garbage_between_calls": ("_threading.Thread(target=lambda: (_time.sleep(0.3), _spray(b'\\x07' * 4096)), "
                              "daemon=True).start()"),
    # the same from a forked child, which holds the pipes too
    "garbage_from_forked_child": "_os.fork() == 0 and (_time.sleep(0.3), _spray(b'\\x07' * 4096), _os._exit(0))",
    # threads until the worker's task limit refuses one: the call raises, and the worker is full
    "exhausts_tasks": ("[_threading.Thread(target=_time.sleep, args=(60,), daemon=True).start() "
                       "for _ in range(100000)]"),
}

# ---- memory of the trusted process (item 4): every member returns huge arrays ----------------------

# float64 elements: 1 GiB, as large as the worker's 2 GiB address space allows with numpy loaded
GIGABYTE = 1 << 27
# Half the per-test reply budget less 1 MiB: two such replies fit in one test, the third is refused.
NEAR_FRAME_CAP = ((Limits().reply_bytes >> 1) - (1 << 20)) // 8

# ---- disk and shared memory (item 5) ----------------------------------------------------------------

FILL = '''
def _fill(Z):
    """Write until refused: large files and many small ones wherever it can, a deep tree, SysV shm."""
    places = {places}
    block = b"\\x5a" * (4 << 20)
    for place in places:
        for i in range(64):
            try:
                with open(_os.path.join(place, f"{_MARK}-{i}.bin"), "wb") as f:
                    for _ in range(4):
                        f.write(block)
            except OSError:
                break
    try:
        _os.mkdir(f"{_MARK}-many")
        for i in range(5000):
            open(f"{_MARK}-many/{i}", "w").close()
    except OSError:
        pass
    for place in (".", places[0]):
        try:
            fd = _os.open(place, _os.O_RDONLY)
            _os.mkdir(f"{_MARK}-deep", dir_fd=fd)
            fd = _os.open(f"{_MARK}-deep", _os.O_RDONLY, dir_fd=fd)
            for _ in range(2000):
                _os.mkdir("d", dir_fd=fd)
                fd = _os.open("d", _os.O_RDONLY, dir_fd=fd)  # never closed: a cheap way to go deep
        except OSError:
            pass
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmget.restype = ctypes.c_int
        libc.shmget(ctypes.c_int({shm_key}), ctypes.c_size_t(32 << 20), ctypes.c_int(0o1000 | 0o600))
    except OSError:
        pass
    return np.maximum(0.0, Z)
'''

# ---- time (item 6): every member stays under the per-call limit, and they add up --------------------

SLEEP = 4.0

# ---- output (item 7): a correct member that prints a lot --------------------------------------------

PRINTS = '''
_printed = []


def _loud(Z):
    if not _printed:  # 200 MB on stdout from the first call, and 20 MB on stderr
        _printed.append(1)
        print("x" * (200 << 20))
        print("y" * (20 << 20), file=_sys.stderr)
    return np.maximum(0.0, Z)
'''


def replace_statement(line: str, new: str) -> str:
    """``line`` (a MEMBERS entry) with its return statement replaced by ``new``, indentation kept."""
    return line.replace(line.strip().split("\n")[0], new, 1)


def returning_ones(size: int) -> dict:
    """Edits making every graded member return ``np.ones(size)`` (the rest of its body still runs)."""
    return {f: [("import numpy as np\n", f"import numpy as np\n_big = lambda: np.ones({size})\n")]
            + [(line, replace_statement(line, "return _big()")) for line in lines] for f, lines in MEMBERS.items()}


def marker() -> str:
    return f"pa3hostile{uuid.uuid4().hex[:12]}"


def shm_key(mark: str) -> int:
    return int(mark[-7:], 16)


def build(dest: Path, kind: str, name: str, mark: str) -> Path:
    """The hostile submission ``kind``/``name`` (see the tables above) at ``dest``."""
    prelude = ("import numpy as np\n", PRELUDE.format(marker=mark))
    if kind == "protocol":
        body = f"{PROTOCOL[name]}\n        return np.maximum(Z, 0.0)"
        edits = {"activations.py": [prelude, (RELU_FORWARD, body)]}
    elif kind == "memory":
        edits = returning_ones({"gigabyte_returns": GIGABYTE, "near_frame_cap_returns": NEAR_FRAME_CAP}[name])
    elif kind == "disk":
        places = {"fill": '["/tmp", "/var/tmp", "/dev/shm", _os.environ["TMPDIR"], _os.environ["HOME"], "."]',
                  "fill_private": '[_os.environ["TMPDIR"], _os.environ["HOME"], "."]'}[name]
        fill = FILL.replace("{shm_key}", str(shm_key(mark))).replace("{places}", places)
        edits = {"activations.py": [(prelude[0], prelude[1] + fill), (RELU_FORWARD, "return _fill(Z)")]}
    elif kind == "time":
        edits = {f: [("import numpy as np\n", "import numpy as np\nimport time as _time\n")]
                 + [(line, line.replace("return", f"_time.sleep({SLEEP}); return", 1)) for line in lines]
                 for f, lines in MEMBERS.items()}
    elif kind == "output":
        edits = {"activations.py": [(prelude[0], prelude[1] + PRINTS), (RELU_FORWARD, "return _loud(Z)")]}
    else:
        raise ValueError(kind)
    return corpus.build(dest, edits)


def honest(dest: Path, kind: str, name: str) -> Path:
    """The same submission with the same correct members and its hostile members merely wrong: they raise
    (protocol) or return a one-element array (memory); disk, time and output: the reference itself."""
    if kind == "protocol":
        edits = {"activations.py": [(RELU_FORWARD, "raise NotImplementedError")]}
    elif kind == "memory":  # the same wrong value, one element long
        edits = returning_ones(1)
    else:  # disk, time, output: the honest submission is the reference itself
        edits = {}
    return corpus.build(dest, edits)


# ---- running and watching ---------------------------------------------------------------------------

@dataclass
class Watched:
    seconds: float
    peak_rss: int
    returncode: int | None
    document: dict | None
    stderr: str
    left_in_tmp: list[str]  # what the grader left in its own temporary folder (TMPDIR)


def idle_rss() -> int:
    """The grader's resident memory once it has imported everything it grades with, before any grading."""
    code = ("import time, psutil, grader.cli, grader.grade, grader.plugin, grader.spec_run, pytest, numpy\n"
            "import test_specs.support.student, test_specs.hidden.oracle\n"
            "print(psutil.Process().memory_info().rss)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    return int(done.stdout.strip())


def grade_watched(submission: Path, results: Path, *flags: str, limit: float) -> Watched:
    """`pa3 grade SUBMISSION --no-notebook --results RESULTS FLAGS`, its RSS sampled every 10 ms; killed
    (and reported with returncode None) if it has not exited by itself after ``limit`` seconds."""
    argv = [sys.executable, "-m", "grader.cli", "grade", str(submission), "--no-notebook", "--quiet",
            "--results", str(results), *flags]
    # A temporary folder of its own (reachable by the sandbox uid, like /tmp): whatever is left in it is its.
    tmp = Path(tempfile.mkdtemp(prefix="pa3-hostile-tmp-", dir="/tmp"))
    tmp.chmod(0o711)
    start = time.monotonic()
    proc = psutil.Popen(argv, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        env=dict(os.environ, TMPDIR=str(tmp)))
    peak = [0]

    def sample():
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = proc.communicate(timeout=limit)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        code = None
    seconds = time.monotonic() - start
    sampler.join()
    document = json.loads(results.read_text()) if results.is_file() else None
    left = sorted(os.listdir(tmp))
    scratch.remove_tree(tmp)
    return Watched(seconds, peak[0], code, document, stderr.decode(errors="replace")[-3000:], left)


def leftover_processes(mark: str) -> list[int]:
    """Live processes carrying ``mark`` in their command line or environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark.encode() in (entry / "environ").read_bytes() or mark.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def leftover_files(mark: str, roots=("/tmp", "/var/tmp", "/dev/shm"), cap: int = 500_000) -> list[str]:
    """Paths under ``roots`` whose name carries ``mark`` (iterative walk, links not followed)."""
    found, todo, seen = [], list(roots), 0
    while todo and seen < cap:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if mark in entry.name:
                found.append(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
    return found


def leftover_shm(mark: str) -> bool:
    """Whether the System V segment the disk attack makes (keyed by ``mark``) still exists."""
    key = shm_key(mark)
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split() and int(line.split()[0]) == key for line in lines)

