"""Hostile submissions aimed at the trusted side itself: its intake, its static checks, its uids.

Each builder returns a submission (folder or zip) whose five graded modules are the reference's
unless the attack replaces one, so an honest score to compare with is known.
"""

from __future__ import annotations

import os
import socket
import zipfile
from pathlib import Path

from tests import corpus

DEEP = 3000  # levels: far past the intake's bound of 32 and Python's recursion limit of 1000


def _chain(folder: Path, depth: int, name: str = "d") -> None:
    """``folder/d/d/.../d`` ``depth`` levels deep, made through directory fds (the path outgrows PATH_MAX)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("deepest.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("x = 1\n")
    finally:
        os.close(fd)


def deep_folder(dest: Path) -> Path:
    folder = corpus.build(dest)
    (folder / "extra").mkdir()
    _chain(folder / "extra", DEEP)
    return folder


def deep_zip(dest: Path) -> Path:
    folder = corpus.build(dest.with_name(dest.name + "_src"))
    archive = corpus.zip_folder(folder, dest.with_suffix(".zip"), inside="PA3")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("PA3/" + "d/" * DEEP + "deepest.py", "x = 1\n")
        zf.writestr("PA3/" + "n" * 300 + ".py", "x = 1\n")      # a component longer than NAME_MAX
        zf.writestr("PA3/util.py/inside.py", "x = 1\n")          # a folder where a file already is
    return archive


def odd_names(dest: Path) -> Path:
    """Names that are not UTF-8, paths longer than PATH_MAX, a component at NAME_MAX."""
    folder = corpus.build(dest)
    os.mkdir(os.fsencode(folder) + b"/bad\xff\xfe")
    (Path(os.fsdecode(os.fsencode(folder) + b"/bad\xff\xfe")) / "inner.py").write_text("x = 1\n")
    Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9.py")).write_text("x = 1\n")
    (folder / ("n" * 255)).write_text("x = 1\n")
    long = folder / "long"
    long.mkdir()
    _chain(long, 30, "L" * 200)  # 6 kB of path, 31 levels: within the depth bound, not the path bound
    return folder


def bad_utf8_zip(dest: Path) -> Path:
    """A zip whose entry is flagged UTF-8 but named with bytes that are not."""
    folder = corpus.build(dest.with_name(dest.name + "_src"))
    archive = corpus.zip_folder(folder, dest.with_suffix(".zip"))
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("placeholder-name.py", "x = 1\n")
    data = bytearray(archive.read_bytes())
    start = data.find(b"PK\x01\x02")
    at = data.find(b"placeholder-name.py", start)
    data[at:at + 2] = b"\xff\xfe"
    header = data.rfind(b"PK\x01\x02", 0, at)
    data[header + 9] |= 0x08  # general-purpose flag bit 11: "the name is UTF-8"
    archive.write_bytes(bytes(data))
    return archive


def special_files(dest: Path, target: Path) -> Path:
    """A fifo, a socket, a device node, a symlink loop, and layers.py as a link to ``target``."""
    folder = corpus.build(dest, drop=("layers.py",))
    os.mkfifo(folder / "pipe.py")
    os.mkfifo(folder / "data.csv")
    os.mknod(folder / "null", 0o600 | 0o020000, os.makedev(1, 3))
    os.symlink("loop", folder / "loop")
    os.symlink(".", folder / "self")
    os.symlink(target, folder / "layers.py")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "socket"))
    server.close()
    return folder


def many_files(dest: Path, count: int = 25_000) -> Path:
    folder = corpus.build(dest)
    junk = folder / "junk"
    junk.mkdir()
    for i in range(count):
        (junk / f"{i}.txt").touch()
    return folder


def many_entries_zip(dest: Path, count: int = 25_000) -> Path:
    folder = corpus.build(dest.with_name(dest.name + "_src"))
    archive = corpus.zip_folder(folder, dest.with_suffix(".zip"))
    with zipfile.ZipFile(archive, "a") as zf:
        for i in range(count):
            zf.writestr(f"junk/{i}", b"")
    return archive


# ---- sources the static checks must survive --------------------------------------------------

def nested_source(dest: Path) -> Path:
    """layers.py ends in 100,000 nested brackets; activations.py in a 100,000-deep unary chain."""
    folder = corpus.build(dest)
    with open(folder / "layers.py", "a") as f:
        f.write("\n_deep = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n")
    with open(folder / "activations.py", "a") as f:
        f.write("\n_deep = " + "-" * 100_000 + "1\n")
    return folder


def heavy_source(dest: Path) -> Path:
    """loss.py of 700 kB, parseable, with a helper of CrossEntropyLoss.forward full of the nested
    expressions the loop rule looks into (each a loop over the batch it must find)."""
    chain = " if c else ".join(["len(Y)"] * 200)
    lines = [f"        for i in range({'len(' * 150}Y{')' * 150} + ({chain})): pass\n" for _ in range(160)]
    helper = "def _noise(Y, c=False):\n    if c:\n" + "".join(lines) + "    return Y\n\n\n"
    return corpus.build(dest, {"loss.py": [("class CrossEntropyLoss", helper + "class CrossEntropyLoss"),
                                           ("        m = Y.shape[0]\n        return -np.sum",
                                            "        Y = _noise(Y)\n        m = Y.shape[0]\n        return -np.sum")]})


# ---- code that attacks other submissions and the grader --------------------------------------

KILL_EVERYTHING = '''
import os as _os, signal as _signal
def _kill_everything(rounds=200):
    me = _os.getpid()
    for _ in range(rounds):
        try:
            _os.kill(-1, _signal.SIGKILL)
        except OSError:
            pass
        for entry in _os.listdir("/proc"):
            if entry.isdigit() and int(entry) != me:
                for hit in (_os.kill, _os.killpg):
                    try:
                        hit(int(entry), _signal.SIGKILL)
                    except OSError:
                        pass
_kill_everything()
'''


def killer(dest: Path) -> Path:
    """Kills every process it can see, at import and again in a graded member."""
    return corpus.build(dest, {
        "activations.py": [("import numpy as np\n", "import numpy as np\n" + KILL_EVERYTHING)],
        "loss.py": [("import numpy as np\n", "import numpy as np\nfrom activations import _kill_everything\n"),
                    ("        m = Y.shape[0]\n        return -np.sum",
                     "        _kill_everything(5)\n        m = Y.shape[0]\n        return -np.sum")]})


def snooper(dest: Path, secrets: list[str], marker: str) -> Path:
    """Reads the oracle and the reference wherever it can, prints them, and leaves files in the shared /tmp
    and System V IPC objects behind."""
    payload = (f"import os as _o, tempfile as _t\n_found = []\nfor _p in {secrets!r}:\n    try:\n"
               f"        _found.append(open(_p).read()[:200])\n    except OSError as _e:\n"
               f"        _found.append(type(_e).__name__)\nprint('SNOOPED', _found)\n"
               f"for _d in ('/tmp', '/var/tmp', '/dev/shm', _t.gettempdir()):\n    try:\n"
               f"        open(_o.path.join(_d, '{marker}'), 'w').write('left behind')\n"
               f"        _o.makedirs(_o.path.join(_d, '{marker}-dir', 'a', 'b'), exist_ok=True)\n"
               f"    except OSError:\n        pass\n"
               f"import ctypes as _c\n_c.CDLL(None).shmget(0, 4096, 0o1000 | 0o600)\n"  # System V memory outlives it
               f"_c.CDLL(None).semget(0, 1, 0o1000 | 0o600)\n")
    return corpus.build(dest, {"activations.py": [("import numpy as np\n", "import numpy as np\n" + payload)]})
