"""What this machine lets the sandbox do, probed rather than assumed from the platform's name.

Students run the self-check on Linux without root or bubblewrap, on macOS (no bubblewrap, no cgroups,
RLIMIT_AS not enforced) and on Windows (no ``resource``, ``fcntl``, ``os.setsid`` or POSIX signals).
The sandbox asks here instead of importing those directly, takes the strongest fallback each place
allows (a plain subprocess with a per-call timeout at worst), and the report says once what it could
not limit.
"""

from __future__ import annotations

import importlib
import os
import select
import signal
import subprocess
import sys


def has_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def euid() -> int | None:
    """The effective uid, or None where there is none (Windows)."""
    return os.geteuid() if hasattr(os, "geteuid") else None


def is_root() -> bool:
    return euid() == 0


def rlimits() -> bool:
    """Memory, CPU time, file size and process limits (the ``resource`` module)."""
    return has_module("resource")


def sessions() -> bool:
    """A worker can lead its own session and be killed as a group (``os.setsid``, ``os.killpg``)."""
    return hasattr(os, "setsid") and hasattr(os, "killpg")


def fd_passing() -> bool:
    """Extra pipe fds can be handed to a child by number (POSIX; ``fcntl`` is there exactly when they can).
    Without it the worker talks over its stdin/stdout and student prints go to its stderr."""
    return os.name == "posix" and has_module("fcntl")


def pollable() -> bool:
    """Pipes can be waited on with a deadline (``select.poll``); without it a reader thread keeps the deadline."""
    return hasattr(select, "poll")


def kill_signal() -> int:
    """SIGKILL where it exists; SIGTERM elsewhere (on Windows ``os.kill`` with it calls TerminateProcess)."""
    return getattr(signal, "SIGKILL", signal.SIGTERM)


def kill_group(pid: int) -> None:
    """Kill ``pid`` and its process group where groups exist, else ``pid`` alone."""
    try:
        if sessions():
            os.killpg(pid, kill_signal())
        else:
            os.kill(pid, kill_signal())
    except OSError:
        pass


def session_popen() -> dict:
    """Popen options that start a worker in its own session (POSIX) or process group (Windows)."""
    if sessions():
        return {"start_new_session": True}
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {}


def platform_name() -> str:
    return {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, "Linux" if sys.platform.startswith("linux")
                                                       else sys.platform)


def not_limited(level: str, bwrap_reason: str | None = None, cgroups: bool = False,
                confined: bool = False) -> list[str]:
    """What the sandbox at ``level`` cannot limit on this machine, in the student's terms (empty: nothing).
    ``confined``: the start-up check found files and network closed without bubblewrap (Landlock, seccomp)."""
    if level == "none":
        return ["anything: your code runs inside the checker's own process (--isolation none)"]
    gaps = []
    if level != "bwrap" and not confined:
        reach = "world-readable files" if level == "user" else "your other files (it runs as you)"
        gaps.append(f"network and {reach}: {bwrap_reason or 'no bubblewrap'}")
    if not rlimits():
        gaps.append(f"memory, CPU time, file size, processes: no `resource` module on {platform_name()}")
    elif sys.platform == "darwin":
        gaps.append("memory: macOS does not enforce RLIMIT_AS (CPU time, file size, processes are limited)")
    if level != "bwrap" and not cgroups:
        if not sessions():
            gaps.append("processes your code starts: only the worker is stopped (no process groups)")
        elif not os.path.isdir("/proc"):
            gaps.append("processes your code starts in a new session: no /proc to find them by")
        elif not is_root():
            gaps.append("process count: per user, not per worker (cgroups need root)")
    return gaps
