"""Isolation levels and the command that starts a worker at each.

Strongest first: ``bwrap`` (mount, PID, network, IPC and UTS namespaces; the worker
sees the Python runtime, its own runtime folder and its private submission copy,
nothing else), ``user`` (an unprivileged uid when started as root), ``process``
(rlimits only), ``none`` (in the grader's own process: for benchmarks only).
Every level also gets rlimits, a scrubbed environment and, where possible, a pids cgroup.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import confinement, hostcaps
from grader.sandbox.errors import IsolationUnavailable

LEVELS = ("bwrap", "user", "process", "none")
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup: only inside bwrap's own user namespace
PRIVATE_TMP = ".tmp"  # at the user level, each worker's TMPDIR and HOME, inside its own private folder
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
WORKER_IN_SANDBOX = "/opt/pa3-worker"
SUBMISSION_IN_SANDBOX = "/submission"


@dataclass
class Launch:
    argv: list[str]
    popen: dict = field(default_factory=dict)
    description: str = ""
    drop_uid: int | None = None  # the uid the worker runs as outside any namespace, when not ours


def scrubbed_env() -> dict[str, str]:
    """The only environment sandboxed code gets: no tokens, no paths into the grader."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    if os.name == "nt":  # Python does not start on Windows without these
        env |= {k: os.environ[k] for k in ("SYSTEMROOT", "TEMP", "TMP") if k in os.environ}
    return env


def worker_env() -> dict[str, str]:
    """The NumPy worker's: one BLAS thread (its arrays are tiny; within any batch's budget) and no display backend."""
    from grader.threads import NUMPY_WORKER_THREADS, environment

    return scrubbed_env() | {"MPLBACKEND": "Agg"} | environment(NUMPY_WORKER_THREADS)


def interpreter() -> str:
    """``sys.executable`` with its folder resolved, as the sandbox sees it.

    The bwrap level binds resolved paths, so a venv reached through a symbolic link (a linked home,
    macOS's /tmp) must be run from its real folder. The executable itself stays unresolved: it is the
    venv's link to the base Python, and Python finds the venv (pyvenv.cfg) beside the path it was run as.
    """
    return str(Path(sys.executable).parent.resolve() / Path(sys.executable).name)


def runtime_paths() -> list[Path]:
    """Folders the interpreter needs: the venv, the base installation and the executable's folder."""
    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths.add(Path(sys.executable).resolve().parent)
    # NumPy installed outside the interpreter's prefix (a .pth into another environment, pip --user)
    numpy = importlib.util.find_spec("numpy")
    if numpy is not None and numpy.submodule_search_locations:
        paths.add(Path(list(numpy.submodule_search_locations)[0]).resolve().parent)
    # Drop folders inside others so each is bound once.
    return sorted(p for p in paths if not any(q != p and q in p.parents for q in paths))


def others_can_reach(path: Path) -> bool:
    """True when a user with no special rights can traverse every folder down to ``path``."""
    path = Path(path).resolve()
    for part in [*reversed(path.parents), path]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    return True


@functools.lru_cache(maxsize=1)
def can_drop_privileges() -> bool:
    """Root, and the interpreter and the worker runtime are readable by an unprivileged user."""
    return hostcaps.is_root() and all(others_can_reach(p) for p in runtime_paths()) and others_can_reach(RUNTIME_DIR)


def drops_privileges(level: str) -> bool:
    """Whether sandboxed code at ``level`` runs as the unprivileged uid outside any namespace too."""
    return level in ("bwrap", "user") and can_drop_privileges()


def sandbox_uid() -> int:
    """The uid sandboxed code runs as outside any namespace: this grader's own, from the leased range."""
    from grader.sandbox import uids

    try:
        return uids.lease()
    except uids.NoUid as exc:
        raise IsolationUnavailable(f"no sandbox uid: {exc}") from None


def hand_over(folder: Path, uid: int, limit: int = 10_000) -> None:
    """Give a private folder (and everything in it) to the sandbox uid, closed to every other uid.

    Without recursion, and not into folders the uid already owns: those it made itself (on a
    worker's restart), so a tree the student built, however deep or wide, costs nothing here.
    """
    os.chown(folder, uid, uid, follow_symlinks=False)
    os.chmod(folder, 0o700)
    todo, seen = [Path(folder)], 0
    while todo:
        current = todo.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    seen += 1
                    if seen > limit:
                        return
                    info = entry.stat(follow_symlinks=False)
                    if info.st_uid == uid:
                        continue
                    os.chown(entry.path, uid, uid, follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        todo.append(Path(entry.path))
        except OSError:
            continue


def private_tmp(level: str, folder: Path) -> dict[str, str]:
    """TMPDIR and HOME for sandboxed code: bwrap's own /tmp, or a folder inside its private ``folder``
    (the user level shares the machine's /tmp, which students must not share with each other)."""
    if level == "bwrap":
        return {"TMPDIR": "/tmp", "HOME": "/tmp"}
    tmp = Path(folder) / PRIVATE_TMP
    tmp.mkdir(mode=0o700, exist_ok=True)
    return {"TMPDIR": str(tmp), "HOME": str(tmp)}


def describe(level: str) -> str:
    """What isolation ``level`` gives here, as recorded in the results."""
    if level == "bwrap":
        how = f"as uid {hostcaps.euid()}" if not hostcaps.is_root() else \
            f"as uid {sandbox_uid()} (its own)" if drops_privileges(level) else "as uid 65534 in a user namespace"
        return f"bwrap: own mount, PID, network, IPC and UTS namespaces; {how}"
    if level == "user":
        return (f"user: unprivileged uid {sandbox_uid()} of its own, private TMPDIR, rlimits, scrubbed environment"
                if drops_privileges(level) else "user: unavailable")
    return {"process": "process: rlimits and a scrubbed environment only" if hostcaps.rlimits() else
                       "process: per-call timeout and scrubbed environment, no rlimits",
            "none": "none: in the grader's own process, NO isolation (benchmarks only)"}[level]


def unavailable_reason(level: str) -> str | None:
    """Why ``level`` cannot run here, or None when it can."""
    if level not in LEVELS:
        return f"unknown isolation level {level!r} (choose from {', '.join(LEVELS)})"
    if level == "bwrap":
        if not sys.platform.startswith("linux"):
            return "bubblewrap needs Linux"
        if shutil.which("bwrap") is None:
            return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        return _bwrap_probe()
    if level == "user":
        if not hostcaps.is_root():
            return "dropping to an unprivileged user needs the grader to run as root"
        if not can_drop_privileges():
            return (f"the Python runtime ({', '.join(map(str, runtime_paths()))}) "
                    "is not readable by an unprivileged user")
    return None


@functools.lru_cache(maxsize=1)
def _bwrap_probe() -> str | None:
    """Installed is not enough (inside Docker it often cannot make namespaces): try it once."""
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
            "true"]
    if hostcaps.is_root() and not can_drop_privileges():
        argv[1:1] = ["--unshare-user", "--uid", str(SANDBOX_UID)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not run here ({exc})"
    if done.returncode != 0:
        return f"bubblewrap cannot create its namespaces here: {done.stderr.strip()[:200]}"
    return None


def resolve(requested: str | None) -> str:
    """The level to use: the requested one, or the strongest available for None/"auto".

    A level must also pass the start-up check that its sandboxed code cannot read the oracle,
    hidden specs or reference (``secrets.refusal``); "auto" goes on to the next level, never to
    student code running as root with the secrets readable.
    """
    from grader.sandbox import secrets

    if requested in (None, "auto"):
        refused = []
        for level in LEVELS[:-1]:
            reason = unavailable_reason(level)
            if reason is None:
                try:
                    reason = secrets.refusal(level, explicit=False)
                except IsolationUnavailable as exc:
                    reason = str(exc)
            if reason is None:
                return level
            refused.append(f"{level}: {reason}")
        raise IsolationUnavailable("no isolation level can run here without exposing the hidden tests: "
                                   + "; ".join(refused))
    reason = unavailable_reason(requested)
    if reason:
        raise IsolationUnavailable(f"--isolation {requested}: {reason}")
    reason = secrets.refusal(requested, explicit=True)
    if reason:
        raise IsolationUnavailable(reason)
    return requested


@dataclass(frozen=True)
class Mount:
    """A host folder the sandboxed process needs, and where it sees it under bwrap.

    ``private``: under bwrap, the folder is a size-limited tmpfs showing the source's entries read-only;
    what the process writes there never reaches the host.
    """

    source: Path
    target: str
    writable: bool = False
    private: bool = False

    def visible(self, level: str) -> str:
        return self.target if level == "bwrap" else str(self.source)


def wrap(level: str, program: list[str], mounts: list[Mount], chdir: Mount, drop_in_argv: bool = False,
         limits=None, confine: bool = True) -> Launch:
    """The command running ``program`` at ``level`` (not "none"), with ``mounts`` visible and ``chdir`` as cwd.

    Paths in ``program`` must already be the visible ones (``Mount.visible``). With ``drop_in_argv`` the
    unprivileged uid is taken by ``setpriv`` in the command itself (for launchers that start the process
    themselves, like jupyter_client); otherwise ``Launch.popen`` carries it. ``limits`` (a Limits) sizes
    the bwrap tmpfs mounts: /tmp, /dev/shm and private working copies. At the user and process levels the
    launcher confines the program (confinement.py); ``confine=False`` only drops the uid (the secrets check,
    which tries the files' own permissions).
    """
    popen: dict = {"env": scrubbed_env(), **hostcaps.session_popen()}
    drop = drops_privileges(level)
    uid = sandbox_uid() if drop else None
    setpriv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    if level == "bwrap":
        def sized(size):
            return ["--size", str(size)] if size else []

        argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "pa3-sandbox",
                "--proc", "/proc", "--dev", "/dev", *sized(getattr(limits, "tmp_bytes", None)), "--tmpfs", "/tmp",
                *sized(getattr(limits, "shm_bytes", None)), "--tmpfs", "/dev/shm"]
        for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                argv += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                argv += ["--ro-bind", top, top]
        for extra in ("/etc/ld.so.cache", "/etc/fonts"):
            argv += ["--ro-bind-try", extra, extra]
        for path in runtime_paths():
            if not str(path).startswith(("/usr/", "/bin/", "/lib")):
                argv += ["--ro-bind", str(path), str(path)]
        argv += ["--ro-bind", str(RUNTIME_DIR), WORKER_IN_SANDBOX]
        for mount in mounts:
            if mount.private:
                argv += [*sized(getattr(limits, "work_bytes", None)), "--tmpfs", mount.target]
                for name in sorted(os.listdir(mount.source)):
                    argv += ["--ro-bind", str(Path(mount.source) / name), f"{mount.target}/{name}"]
            else:
                argv += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
        argv += ["--chdir", chdir.target]
        if hostcaps.is_root() and not drop:
            # The runtime is only readable by root: stay root outside, but as uid 65534 with
            # no capabilities inside a user namespace.
            argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        result = Launch(argv + ["--", *program], popen, describe(level))
    elif level in ("user", "process"):
        if level == "user" and not drop:
            raise IsolationUnavailable(f"--isolation user: {unavailable_reason('user')}")
        result = Launch(list(program), dict(popen, cwd=str(chdir.source)), describe(level))
        if confinement.supported():  # the launcher confines, and drops the uid itself after its mount namespace
            private = Path(private_tmp(level, chdir.source)["TMPDIR"])
            config = {"confine": confinement.policy(level, mounts, private, uid) if confine else {"uid": uid}}
            result.argv = [interpreter(), "-I", str(RUNTIME_DIR / "launch.py"), json.dumps(config), "--", *program]
            result.drop_uid = uid
            return result
        if level == "process":
            return result
    else:
        raise ValueError(level)
    if drop:
        result.drop_uid = uid
        if drop_in_argv:
            result.argv = setpriv + result.argv
        else:
            result.popen.update(user=uid, group=uid, extra_groups=[])
    return result


def launch(level: str, submission: Path, channel: tuple[int, int] | None, limits, tmp: Path | None = None) -> Launch:
    """The command that starts a NumPy worker for ``submission`` at ``level`` (not "none").

    ``channel``: the (request, response) pipe fds the worker inherits; None where fds cannot be passed by
    number (Windows): the worker then talks over its stdin/stdout (see hostcaps.fd_passing). Under bwrap
    its working copy is private (a sized tmpfs); elsewhere ``tmp`` (or a private folder in its copy) is
    its TMPDIR and HOME, never a /tmp shared with other students.
    """
    folder = Mount(Path(submission), SUBMISSION_IN_SANDBOX, writable=True, private=True)
    runtime = WORKER_IN_SANDBOX if level == "bwrap" else str(RUNTIME_DIR)
    fds = [str(fd) for fd in channel] if channel else ["stdio", "stdio"]
    program = [interpreter(), "-I", os.path.join(runtime, "worker.py"), *fds, folder.visible(level),
               json.dumps(limits.rlimits())]
    result = wrap(level, program, [folder], folder, limits=limits)
    own = {"TMPDIR": str(tmp), "HOME": str(tmp)} if level != "bwrap" and tmp is not None else None
    env = worker_env() | (own or private_tmp(level, submission))
    result.popen.update(env=env)
    if channel:
        result.popen.update(pass_fds=tuple(channel))
    return result
