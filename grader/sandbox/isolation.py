"""Isolation levels and the command that starts a worker at each.

Strongest first: ``bwrap`` (mount, PID, network, IPC and UTS namespaces; the worker
sees the Python runtime, its own runtime folder and its private submission copy,
nothing else), ``user`` (an unprivileged uid when started as root), ``process``
(rlimits only), ``none`` (in the grader's own process: for benchmarks only).
Every level also gets rlimits, a scrubbed environment and, where possible, a pids cgroup.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LEVELS = ("bwrap", "user", "process", "none")
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
WORKER_IN_SANDBOX = "/opt/pa3-worker"
SUBMISSION_IN_SANDBOX = "/submission"


class IsolationUnavailable(RuntimeError):
    """The requested isolation level cannot run on this machine; the message says why."""


@dataclass
class Launch:
    argv: list[str]
    popen: dict = field(default_factory=dict)
    description: str = ""
    drop_uid: int | None = None  # the uid the worker runs as outside any namespace, when not ours


def scrubbed_env() -> dict[str, str]:
    """The only environment sandboxed code gets: no tokens, no paths into the grader."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


def worker_env() -> dict[str, str]:
    """The NumPy worker's: one BLAS thread (its arrays are tiny) and no display backend."""
    return scrubbed_env() | {"MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                             "MKL_NUM_THREADS": "1"}


def runtime_paths() -> list[Path]:
    """Folders the interpreter needs: the venv, the base installation and the executable's folder."""
    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths.add(Path(sys.executable).resolve().parent)
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
    return os.geteuid() == 0 and all(others_can_reach(p) for p in runtime_paths()) and others_can_reach(RUNTIME_DIR)


def drops_privileges(level: str) -> bool:
    """Whether sandboxed code at ``level`` runs as the unprivileged uid outside any namespace too."""
    return level in ("bwrap", "user") and can_drop_privileges()


def hand_over(folder: Path, uid: int) -> None:
    """Give a private folder (and everything in it) to the sandbox uid."""
    for root, dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, uid, uid, follow_symlinks=False)


def describe(level: str) -> str:
    """What isolation ``level`` gives here, as recorded in the results."""
    if level == "bwrap":
        how = f"as uid {os.geteuid()}" if os.geteuid() != 0 else \
            "as uid 65534" if drops_privileges(level) else "as uid 65534 in a user namespace"
        return f"bwrap: own mount, PID, network, IPC and UTS namespaces; {how}"
    return {"user": "user: unprivileged uid 65534, rlimits, scrubbed environment",
            "process": "process: rlimits and a scrubbed environment only",
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
        if os.geteuid() != 0:
            return "dropping to an unprivileged user needs the grader to run as root"
        if not can_drop_privileges():
            return f"the Python runtime ({', '.join(map(str, runtime_paths()))}) is not readable by an unprivileged user"
    return None


@functools.lru_cache(maxsize=1)
def _bwrap_probe() -> str | None:
    """Installed is not enough (inside Docker it often cannot make namespaces): try it once."""
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
            "true"]
    if os.geteuid() == 0 and not can_drop_privileges():
        argv[1:1] = ["--unshare-user", "--uid", str(SANDBOX_UID)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not run here ({exc})"
    if done.returncode != 0:
        return f"bubblewrap cannot create its namespaces here: {done.stderr.strip()[:200]}"
    return None


def resolve(requested: str | None) -> str:
    """The level to use: the requested one, or the strongest available for None/"auto"."""
    if requested in (None, "auto"):
        for level in LEVELS[:-1]:
            if unavailable_reason(level) is None:
                return level
        return "process"
    reason = unavailable_reason(requested)
    if reason:
        raise IsolationUnavailable(f"--isolation {requested}: {reason}")
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
         limits=None) -> Launch:
    """The command running ``program`` at ``level`` (not "none"), with ``mounts`` visible and ``chdir`` as cwd.

    Paths in ``program`` must already be the visible ones (``Mount.visible``). With ``drop_in_argv`` the
    unprivileged uid is taken by ``setpriv`` in the command itself (for launchers that start the process
    themselves, like jupyter_client); otherwise ``Launch.popen`` carries it. ``limits`` (a Limits) sizes
    the bwrap tmpfs mounts: /tmp, /dev/shm and private working copies.
    """
    popen: dict = {"env": scrubbed_env(), "start_new_session": True}
    drop = drops_privileges(level)
    setpriv = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}", "--clear-groups", "--"]
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
        if os.geteuid() == 0 and not drop:
            # The runtime is only readable by root: stay root outside, but as uid 65534 with
            # no capabilities inside a user namespace.
            argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        result = Launch(argv + ["--", *program], popen, describe(level))
    elif level == "user":
        if not drop:
            raise IsolationUnavailable(f"--isolation user: {unavailable_reason('user')}")
        result = Launch(list(program), dict(popen, cwd=str(chdir.source)), describe(level))
    elif level == "process":
        return Launch(list(program), dict(popen, cwd=str(chdir.source)), describe(level))
    else:
        raise ValueError(level)
    if drop:
        result.drop_uid = SANDBOX_UID
        if drop_in_argv:
            result.argv = setpriv + result.argv
        else:
            result.popen.update(user=SANDBOX_UID, group=SANDBOX_GID, extra_groups=[])
    return result


def launch(level: str, submission: Path, request_fd: int, response_fd: int, limits, tmp: Path | None = None) -> Launch:
    """The command that starts a NumPy worker for ``submission`` at ``level`` (not "none").

    Under bwrap its working copy is private (a sized tmpfs); elsewhere ``tmp`` is its TMPDIR and HOME.
    """
    folder = Mount(Path(submission), SUBMISSION_IN_SANDBOX, writable=True, private=True)
    runtime = WORKER_IN_SANDBOX if level == "bwrap" else str(RUNTIME_DIR)
    program = [sys.executable, "-I", f"{runtime}/worker.py", str(request_fd), str(response_fd),
               folder.visible(level), json.dumps(limits.rlimits())]
    result = wrap(level, program, [folder], folder, limits=limits)
    env = worker_env()
    if level != "bwrap" and tmp is not None:
        env.update(TMPDIR=str(tmp), HOME=str(tmp))
    result.popen.update(pass_fds=(request_fd, response_fd), env=env)
    return result
