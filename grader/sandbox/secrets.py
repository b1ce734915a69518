"""Checked at start: sandboxed code cannot read the oracle, the hidden specs or the reference.

Tried, not assumed: a probe runs exactly as a worker would at the level (same wrapper, same uid)
and tries to open each secret path, without the launcher's Landlock layer: the files' own permissions
must keep them (confinement.py checks that layer on top). Paths it can read and that the grader owns
are closed to others (``chmod o=``, as run_autograder does) and tried again; a level at which a secret
stays readable is refused with a message saying which and why. The outcome goes into the results.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.sandbox import hostcaps, isolation
from grader.sandbox.errors import IsolationUnavailable

PROBE = """
import json, os, sys
readable = []
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
        readable.append(path)
    except OSError:
        pass
print(json.dumps(readable))
"""
PROBE_TIMEOUT = 30


@dataclass
class SecretCheck:
    level: str
    uid: int | None                                      # the uid sandboxed code runs as, when not ours
    checked: int = 0                                     # secret paths tried
    closed: list[str] = field(default_factory=list)      # made unreadable to others by this check
    readable: list[str] = field(default_factory=list)    # still readable by sandboxed code
    verdict: str = ""

    @property
    def safe(self) -> bool:
        return not self.readable

    def as_dict(self) -> dict:
        return asdict(self) | {"safe": self.safe}


_protected: list[Path] = []  # told by the entry points: the hidden specs and the reference, Gradescope's metadata


def protect(*paths: Path) -> None:
    """Paths (files, or folders with everything in them) that must stay closed to sandboxed code: the sandbox
    is told them (grader/__init__.py, run_autograder.py), and tries and closes them at start."""
    _protected.extend(Path(p) for p in paths if Path(p) not in _protected)
    _checks.clear()


also_secret = protect  # Gradescope's entry point names its metadata this way


def secret_paths() -> list[Path]:
    """What the entry points named (``protect``): files first, then each folder and what it holds."""
    files = [p for p in _protected if p.exists() and not p.is_dir()]
    found: list[Path] = list(files)
    for root in _protected:
        if root.is_dir():
            found.append(root)
            found += sorted(p for p in root.rglob("*") if not p.is_symlink())  # the grader's own small trees
    return found[:1000]


def probe(level: str, paths: list[Path]) -> list[str]:
    """The paths that code sandboxed at ``level`` can read."""
    if not paths:
        return []
    scratch = Path(tempfile.mkdtemp(prefix="pa3-probe-"))
    try:
        scratch.chmod(0o711)
        here = isolation.Mount(scratch, "/probe")
        program = [isolation.interpreter(), "-I", "-S", "-c", PROBE, *map(str, paths)]
        spec = isolation.wrap(level, program, [here], here, confine=False)  # the permissions alone must hold
        popen = dict(spec.popen)
        popen.pop("start_new_session", None)
        done = subprocess.run(spec.argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, **popen)
        if done.returncode != 0:
            raise IsolationUnavailable(
                f"--isolation {level}: the sandbox could not run its start-up check: {done.stderr.strip()[-300:]}")
        return list(json.loads(done.stdout))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise IsolationUnavailable(f"--isolation {level}: the start-up check failed ({exc})") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _close(path: Path) -> bool:
    """``chmod o=`` on a path the grader owns; False when it is someone else's."""
    try:
        info = os.lstat(path)
        if info.st_uid != hostcaps.euid() or stat.S_ISLNK(info.st_mode):
            return False
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o007)
        return True
    except OSError:
        return False


_checks: dict[str, SecretCheck] = {}


def check(level: str) -> SecretCheck:
    """Try the secrets at ``level`` (once per process), closing what the grader owns; see ``refusal``."""
    if level in _checks:
        return _checks[level]
    uid = isolation.sandbox_uid() if isolation.drops_privileges(level) else None
    result = SecretCheck(level, uid)
    paths = secret_paths()
    result.checked = len(paths)
    if level == "none":
        result.readable = [str(p) for p in paths]
        result.verdict = "no isolation: student code runs in the grader and can read everything"
    elif uid is None and level == "process":  # it runs as the grader's own uid: no probe can tell more than this
        result.readable = [str(p) for p in paths if os.access(p, os.R_OK)]
        result.verdict = ("no hidden specs or reference here" if not result.readable else
                          f"sandboxed code can read {len(result.readable)} secret path(s): at the process level it "
                          f"runs as the grader's own uid")
    else:
        readable = probe(level, paths)
        if readable and uid is not None:  # a uid of its own: closing the files to others is enough
            result.closed = [p for p in readable if _close(Path(p))]
            readable = probe(level, paths) if result.closed else readable
        result.readable = readable
        if not readable:
            result.verdict = (f"sandboxed code cannot read the {len(paths)} hidden-spec and reference paths"
                              + (f" ({len(result.closed)} closed to others now)" if result.closed else "")
                              if paths else "no hidden specs or reference here")
        else:
            owners = {}
            for p in readable[:3]:
                try:
                    owners[p] = os.lstat(p).st_uid
                except OSError:
                    owners[p] = "?"
            shown = ", ".join(f"{p} (owner uid {o})" for p, o in owners.items())
            result.verdict = (f"sandboxed code can read {len(readable)} secret path(s), e.g. {shown}"
                              + ("; they are not the grader's, so it did not close them: chmod -R o= them"
                                 if uid is not None else f"; at the {level} level it runs as the grader's own uid"))
    _checks[level] = result
    return result


def refusal(level: str, explicit: bool) -> str | None:
    """Why ``level`` must not be used here because of what its code could read, or None.

    bwrap and user exist to keep the secrets: a readable one refuses them. The process level
    runs as the grader's own uid and is taken only when asked for by name, or when the grader is
    not root (a self-check, or a TA's laptop without bubblewrap): never silently as root.
    """
    if level == "none":
        return None
    result = check(level)
    if result.safe:
        return None
    if level == "process" and (explicit or hostcaps.euid() != 0):
        return None
    return f"--isolation {level}: {result.verdict}"
