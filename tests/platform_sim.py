"""Run `pa3` as if on another platform, by taking away what that platform lacks before anything is imported.

    python tests/platform_sim.py PLATFORM [PA3 ARGS ...]          the trusted side (pa3 itself)
    python tests/platform_sim.py --worker PLATFORM -I WORKER ...   a sandboxed worker started by it

PLATFORM is ``windows`` (no resource, fcntl, termios, pwd or grp; no os.setsid, os.killpg, uids or fork;
only the signals Windows has; no select.poll) or ``macos`` (sys.platform is darwin: no bubblewrap). No root
and no bubblewrap on PATH are arranged by the caller (setpriv, PATH). For ``windows`` the worker is
simulated too: sys.executable becomes a wrapper that starts workers through ``--worker``.
"""

from __future__ import annotations

import os
import sys

WINDOWS_MODULES = ("resource", "fcntl", "termios", "pwd", "grp")
# os.getuid stays: platformdirs' Unix branch (chosen by sys.platform, still linux here) imports it at load.
WINDOWS_OS = ("setsid", "killpg", "getpgid", "setpgid", "getsid", "geteuid", "getegid", "getgid",
              "getgroups", "setreuid", "setregid", "fork", "forkpty", "chown", "lchown", "fchown", "wait3", "wait4")
WINDOWS_SIGNALS = {"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM"}


def take_away(platform: str) -> None:
    if platform == "windows":
        for name in WINDOWS_MODULES:
            sys.modules[name] = None  # `import resource` now raises ImportError, as on Windows
        for name in WINDOWS_OS:
            if hasattr(os, name):
                delattr(os, name)
        import select
        import signal

        for name in ("poll", "epoll", "devpoll", "kqueue"):
            if hasattr(select, name):
                delattr(select, name)
        for name in [n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")]:
            if name not in WINDOWS_SIGNALS:
                delattr(signal, name)
    elif platform == "macos":
        sys.platform = "darwin"
    else:
        raise SystemExit(f"unknown platform {platform!r}")


def worker_wrapper(folder: str) -> str:
    """An executable that starts Python workers through this file's --worker mode."""
    path = os.path.join(folder, "python-as-windows")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\necho "$$" >> "{folder}/workers-started"\n'  # so that a test sees this path was taken
                f'exec "{sys.executable}" -I "{os.path.abspath(__file__)}" --worker windows "$@"\n')
    os.chmod(path, 0o755)
    return path


def main() -> None:
    if sys.argv[1] == "--worker":
        platform, rest = sys.argv[2], sys.argv[3:]
        take_away(platform)
        while rest and rest[0].startswith("-"):  # interpreter options the sandbox passed (-I)
            rest = rest[1:]
        import runpy

        sys.argv = rest
        sys.path[0] = os.path.dirname(os.path.abspath(rest[0]))
        runpy.run_path(rest[0], run_name="__main__")
        return
    platform, args = sys.argv[1], sys.argv[2:]
    wrapper = worker_wrapper(os.environ["PA3_SIM_DIR"]) if platform == "windows" else None
    take_away(platform)
    if wrapper:
        sys.executable = wrapper
    sys.path.insert(0, os.environ["PA3_SIM_ROOT"])  # the project (or a bundle) to import pa3 from
    from grader.cli import main as pa3

    sys.exit(pa3(args))


if __name__ == "__main__":
    main()
