"""Confinement at the ``user`` and ``process`` levels, where bubblewrap's namespaces cannot be had: the
trusted side's half (what a sandboxed process may read and write, and the start-up check that it holds).

runtime/confine.py applies the policy inside the launcher (Landlock, a seccomp filter against network
sockets, a private /tmp in a mount namespace where one can be made). The policy names only the runtime
(system folders, the interpreter, its site-packages, the sandbox's own runtime folder) and the folders
the process is given; the grader's own source, its specs and the reference are left out even when they
sit inside a folder of the runtime (an installed package): that folder is then allowed entry by entry.

The check (``check``) does not trust any of this: it runs a probe exactly as a worker runs and tries to
read a world-readable folder beside its own, the folder the submission came from (a class's batch input
folder), the TA's home and the grader's source, to reach a listening local TCP port, and to meet the
machine's /tmp. Its outcome is ``extra_data.isolation_checks`` (``confined``, ``confinement``: one line).
"""

from __future__ import annotations

import functools
import json
import os
import secrets as token
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox import hostcaps

SYSTEM_READ = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sys",
               # what Python, glibc, matplotlib and friends read in /etc; never the rest of it
               "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/timezone",
               "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/hosts", "/etc/gai.conf",
               "/etc/mime.types", "/etc/fonts", "/etc/os-release", "/etc/alternatives", "/etc/ssl", "/etc/matplotlibrc",
               "/usr/share/zoneinfo")
# read and write; the pseudo-terminals for IPython's `!command` (pexpect)
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/shm", "/dev/ptmx", "/dev/pts",
           "/dev/tty")
TMP_TARGETS = ("/tmp", "/var/tmp")
EXPAND_LIMIT = 5000  # rules at most, when a runtime folder holds the grader and is allowed entry by entry


def supported() -> bool:
    """The launcher can confine here (Landlock and seccomp are Linux's; elsewhere the level is as before)."""
    return sys.platform.startswith("linux") and hostcaps.fd_passing() and hostcaps.rlimits()


_closed: list[Path] = []  # told by grader/__init__.py: the grader's source, its specs, the reference


def keep_closed(*trees: Path) -> None:
    """Folders sandboxed code must never read, even where they lie inside a folder it may (site-packages)."""
    _closed.extend(Path(t).resolve() for t in trees if Path(t).resolve() not in _closed)


def closed_trees() -> list[Path]:
    """What ``keep_closed`` was told: never readable by sandboxed code."""
    return list(_closed)


def _open_parts(path: Path, closed: list[Path], budget: list[int], listed: list[str], expand: bool = True) -> list[str]:
    """``path`` if it holds none of ``closed``; nothing if it lies in one; else (``expand``) its entries, each
    the same way, with ``path`` itself added to ``listed`` (its names may be listed: imports list site-packages)."""
    if any(path == c or c in path.parents for c in closed):
        return []
    if not any(path in c.parents for c in closed):
        return [str(path)]
    if not expand:
        return []
    listed.append(str(path))
    parts = []
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        budget[0] -= 1
        if budget[0] < 0:
            break
        try:  # a link (a venv's lib64) is allowed as what it points to, so it is judged as that
            target = Path(entry.path).resolve()
        except OSError:
            continue
        parts += _open_parts(target, closed, budget, listed)
    return parts


@functools.lru_cache(maxsize=1)
def runtime_read() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What every sandboxed process may read: the system folders, the interpreter's and its import path's,
    the sandbox runtime; without the grader's own trees. Second: the folders around them it may only list."""
    from grader.sandbox import isolation

    # The system and the interpreter's installation may hold the grader (an installed package): taken entry by
    # entry around it. Another import path holding it (the project's root, the current folder) is left out.
    # Of the import path, only the installations' folders: never the script's folder or the current one.
    runtime = [*SYSTEM_READ, *map(str, isolation.runtime_paths())]
    prefixes = tuple(map(str, isolation.runtime_paths()))
    wanted = [*runtime, *(p for p in sys.path if os.path.isabs(p) and (_under(p, prefixes) or p.endswith(
        ("site-packages", "dist-packages"))))]
    closed, found, budget, listed = closed_trees(), [], [EXPAND_LIMIT], []
    for raw in dict.fromkeys(wanted):
        try:
            path = Path(raw).resolve()
        except OSError:
            continue
        if path.exists():
            expand = raw in runtime or path.name in ("site-packages", "dist-packages")
            found += _open_parts(path, closed, budget, listed, expand)
    return tuple(dict.fromkeys([*found, str(isolation.RUNTIME_DIR)])), tuple(dict.fromkeys(listed))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def policy(level: str, mounts: list, private: Path, uid: int | None) -> dict:
    """What runtime/confine.py applies for a process at ``level`` given ``mounts`` (isolation.Mount) and its
    private temporary folder; ``uid``: the one the launcher drops to (it then starts as root)."""
    runtime, listed = runtime_read()
    read = list(runtime) + [str(Path(m.source).resolve()) for m in mounts if not m.writable]
    write = [*DEVICES, str(Path(private).resolve())] + [str(Path(m.source).resolve()) for m in mounts if m.writable]
    result: dict = {"read": read, "write": write, "list": list(listed), "no_network": True}
    if uid is not None:
        result["uid"] = uid
    # a mount namespace is tried (as root, or in a user namespace of its own) for a private /tmp
    targets = tuple(dict.fromkeys(str(Path(t).resolve()) for t in TMP_TARGETS if os.path.isdir(t)))
    keep = sorted({p for p in read + write if _under(p, targets) and os.path.isdir(p)}, key=len)
    keep = [p for p in keep if not any(q != p and _under(p, (q,)) for q in keep)]  # outermost only
    if not any(p in targets for p in keep):
        result["tmp"] = {"private": str(Path(private).resolve()), "targets": list(targets), "keep": keep}
    return result


# -- the start-up check ----------------------------------------------------------------------------

PROBE = r"""
import json, os, socket, sys
args = json.loads(sys.argv[1])
read = []
through = set(args["through"])
for path in args["paths"]:
    try:
        if os.path.isdir(path):
            names = os.listdir(path)
            if path in through and all(os.path.join(path, n) in through for n in names):
                continue  # a folder bwrap made for a runtime mount to pass through: nothing of the place
        else:
            with open(path, "rb") as f:
                f.read(1)
        read.append(path)
    except OSError:
        pass
try:
    s = socket.create_connection(("127.0.0.1", args["port"]), timeout=3)
    s.sendall(b"x")
    s.close()
    network = "connected"
except OSError as exc:
    network = f"refused: {exc.strerror or exc}"
try:
    with open(args["tmp_file"], "w") as f:
        f.write(args["token"])
    tmp = "wrote"
except OSError as exc:
    tmp = f"refused: {exc.strerror or exc}"
print(json.dumps({"read": read, "network": network, "tmp": tmp, "applied": os.environ.get("PA3_CONFINEMENT")}))
"""
PROBE_TIMEOUT = 30


def named_by_callers(levels: int = 4) -> list[Path]:
    """Folders named on the command lines of the processes that started this grader (``pa3 batch INPUT --out
    DIR``: a class's submissions and results), relative ones read from the caller's own folder."""
    found, pid = [], os.getpid()
    for _ in range(levels):
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if pid <= 1:
                break
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:]
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except (OSError, ValueError, IndexError):
            break
        for raw in args[:64]:
            text = raw.decode(errors="replace")
            # A caller's argument may be anything (a CI runner's whole script): only path-like ones are tried.
            if not text or text.startswith("-") or len(text) > 4096 or "\n" in text or "\0" in text:
                continue
            path = cwd / text
            try:
                if path.is_dir() and path != Path("/"):
                    found.append(path)
            except (OSError, ValueError):  # too long, closed to us: not a folder this grader can name
                pass
    return found


def closed_places(around: list[Path]) -> list[Path]:
    """Places a sandboxed process must not read that exist here: ``around`` (the folder a submission came
    from, and what is in it), the folders its callers name (a batch's input), the TA's home, the grader's
    source, its hidden specs and the reference."""
    places = []
    for folder in [*around, *named_by_callers()]:
        places.append(folder)
        try:
            places += sorted(folder.iterdir())[:5]
        except OSError:
            pass
    homes = {Path.home()}
    if os.environ.get("SUDO_USER"):
        homes.add(Path(os.path.expanduser(f"~{os.environ['SUDO_USER']}")))
    places += sorted(homes)
    grader, specs, reference = closed_trees()
    places += [grader / "grade.py", grader, specs / "hidden", reference / "layers.py"]
    shared = {Path(t).resolve() for t in (*TMP_TARGETS, "/")}  # /tmp is tried on its own (it may be private)
    return [p for p in dict.fromkeys(places) if p not in shared and _exists(p)]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # closed to this uid: still a place to try
        return True


def _summary(level: str, readable: list[str], network: str, tmp: str, applied: dict) -> tuple[bool, str]:
    confined = not readable and network != "reachable"
    how = {"bwrap": "bubblewrap's namespaces"}.get(level, "Landlock and a seccomp filter")
    tmp_text = {"private": "its /tmp is private", "closed": "the machine's /tmp is closed to it (TMPDIR is private)",
                "shared": "it shares the machine's /tmp"}[tmp]
    if confined:
        return True, f"student code reads only its own folder and the runtime, has no network, {tmp_text} ({how})"
    gaps = []
    if readable:
        gaps.append(f"it could read {len(readable)} place(s) outside its folder, e.g. {readable[0]}")
    if network == "reachable":
        gaps.append("it could connect to a local TCP port")
    why = "; ".join(f"{k}: {v}" for k, v in applied.items() if v)
    return False, "NOT CONFINED: " + "; ".join(gaps) + (f" ({why})" if why else "") + f"; {tmp_text}"


def probe(level: str, around: list[Path]) -> dict:
    """Run the probe at ``level`` as a worker runs and say what it reached (see the module's doc)."""
    from grader.sandbox import isolation

    base = Path(tempfile.mkdtemp(prefix="pa3-confine-"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tmp_file = Path("/tmp") / f"pa3-confine-{token.token_hex(8)}"
    try:
        base.chmod(0o755)
        here, beside = base / "probe", base / "beside"
        here.mkdir(mode=0o755)
        beside.mkdir(mode=0o755)
        (beside / "layers.py").write_text("# a classmate's work\n")
        (beside / "layers.py").chmod(0o644)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        # The runtime is readable on purpose; the folders above it are only passed through.
        runtime = [str(p) for p in isolation.runtime_paths()]
        through = sorted({*runtime, *(str(a) for r in runtime for a in Path(r).parents if a != Path("/"))})
        paths = [str(beside), str(beside / "layers.py"),
                 *(str(p) for p in closed_places(around) if not _under(str(p), tuple(runtime)))]
        mount = isolation.Mount(here, "/probe")
        args = json.dumps({"paths": paths, "port": listener.getsockname()[1], "tmp_file": str(tmp_file),
                           "token": tmp_file.name, "through": through})
        spec = isolation.wrap(level, [isolation.interpreter(), "-I", "-S", "-c", PROBE, args], [mount], mount)
        if spec.drop_uid is not None:  # as a worker's folder is
            isolation.hand_over(here, spec.drop_uid)
        popen = dict(spec.popen)
        popen.pop("start_new_session", None)
        done = subprocess.run(spec.argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, **popen)
        if done.returncode != 0:
            return {"confined": False, "confinement": f"NOT CONFINED: the start-up check could not run "
                                                      f"({done.stderr.strip()[-200:]})"}
        seen = json.loads(done.stdout)
        try:
            listener.accept()[0].close()
            network = "reachable"
        except OSError:
            network = "unreachable"
        if seen["tmp"] != "wrote":
            tmp = "closed"
        else:
            tmp = "shared" if tmp_file.exists() else "private"
        applied = json.loads(seen["applied"]) if seen.get("applied") else {}
        confined, line = _summary(level, seen["read"], network, tmp, applied)
        return {"confined": confined, "confinement": line, "confinement_probe": {
            "tried": paths, "readable": seen["read"], "network": network, "network_error": seen["network"],
            "tmp": tmp, "applied": applied}}
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        return {"confined": False, "confinement": f"NOT CONFINED: the start-up check failed ({str(exc)[:300]})"}
    finally:
        listener.close()
        tmp_file.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)


_checks: dict[tuple, dict] = {}


def check(level: str, around: list[Path] | None = None) -> dict:
    """``probe`` once per process and level; "none" is never confined."""
    if level == "none":
        return {"confined": False, "confinement": "NOT CONFINED: --isolation none runs student code in the grader"}
    key = (level, tuple(around or ()))
    if key not in _checks:
        _checks[key] = probe(level, list(around or ()))
    return _checks[key]
