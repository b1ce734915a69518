"""One sandboxed process's life: hand its folders to its uid, put it in its cgroups, start it, kill
everything it started, reap it, and say how it ended.

The NumPy worker (client.py) and the notebook kernel (grader/notebook/kernel.py) both run this way.
The worker is started here (``launch``); the kernel is started by jupyter_client from the command
built here (``command``) and adopted for the kill (``adopt``). What each then speaks (the worker's
frames, the kernel's ZMQ sockets) is theirs, not this module's.

Killing takes every net there is, because each one misses something somewhere: the pids cgroup
lists even processes that left the session (root, a writable cgroup tree), the process tree and
session catch the rest (and orphans re-parented to a subreaper), the memory cgroup's removal frees
the tmpfs pages charged to it. Where none of these exist (macOS, Windows) ``proctree.kill_tree``
falls back to the process group, or the process alone (see hostcaps).
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from grader.sandbox import cgroup as pids_cgroups
from grader.sandbox import isolation, proctree
from grader.sandbox.cgroup import PidsCgroup
from grader.sandbox.isolation import Launch
from grader.sandbox.limits import Limits
from grader.sandbox.memcg import MemoryCgroup

REAP_TIMEOUT = 10.0  # s to wait for the killed process itself (its tree is already SIGKILLed)

SIGNAL_CAUSES = {getattr(signal, name): cause for name, cause in {  # Windows has only some of these
    "SIGKILL": "killed (out of memory, over the process limit, or stopped by the grader)",
    "SIGXCPU": "stopped: CPU time limit exceeded",
    "SIGXFSZ": "stopped: file size limit exceeded (it wrote too large a file)",
    "SIGSEGV": "crashed with a segmentation fault",
    "SIGABRT": "aborted",
    "SIGTERM": "terminated",
}.items() if hasattr(signal, name)}


class SandboxedProcess:
    """One start of a sandboxed program at ``level``; make a new one for each restart.

    Made before anything else of the start, because it notes the grader's own children then
    (``spare``): a notebook's, pytest's, an earlier grading's are never taken for this process's orphans.
    ``cgroups=False`` runs it without cgroups (tests, benchmarks); ``memory_cgroup=False`` gives it a pids
    cgroup only. ``subreaper``: become the subreaper first, so that orphans it leaves (double forks,
    setsid daemons) are re-parented to the grader and found by the kill.
    """

    def __init__(self, level: str, limits: Limits, *, cgroups: bool = True, memory_cgroup: bool = True,
                 subreaper: bool = True) -> None:
        self.level, self.limits = level, limits
        self.use_cgroups, self.use_memory_cgroup = cgroups, memory_cgroup
        if subreaper:
            proctree.become_subreaper()
        self.spare = proctree.children()
        self.uid: int | None = None  # the uid it runs as outside any namespace, when not ours
        self.cgroup: PidsCgroup | None = None
        self.memcg: MemoryCgroup | None = None
        self.popen: subprocess.Popen | None = None  # only when started here; an adopted one is its launcher's
        self.pid: int | None = None

    # -- before it starts ------------------------------------------------------------------------

    def hand_over(self, spec: Launch, folders: Iterable[Path | None]) -> None:
        """Give ``folders`` (None entries skipped) to the uid ``spec`` drops to; nothing when it drops to none."""
        self.uid = spec.drop_uid
        if spec.drop_uid is None:
            return
        for folder in folders:
            if folder is not None:
                isolation.hand_over(folder, spec.drop_uid)

    def command(self, spec: Launch) -> list[str]:
        """``spec.argv`` behind the prefixes that move it into fresh cgroups (memory when asked, then pids; one
        cgroup with both limits under cgroup v2). Once per process: each call makes new cgroups.

        The prefixes run as whoever the launcher starts: the sandbox uid when Popen drops to it
        (``spec.popen`` has ``user``), which must then be allowed to write ``cgroup.procs`` (cgroup v1 only:
        ``launch`` therefore drops with setpriv after them); the grader's own uid when ``setpriv`` in the argv
        drops later (``launch``, and a command for jupyter_client).
        """
        owner = spec.drop_uid if "user" in spec.popen else None
        if self.use_cgroups:
            if self.use_memory_cgroup:
                self.memcg = MemoryCgroup.create(self.limits.memory_bytes, owner_uid=owner)
            if self.memcg is not None and _unified(self.memcg.path, self.limits.processes):
                self.cgroup = PidsCgroup(self.memcg.path)  # cgroup v2: a process is in one cgroup, with both limits
            else:
                self.cgroup = PidsCgroup.create(self.limits.processes, owner_uid=owner)
        groups = [g for g in (self.memcg, self.cgroup) if g is not None]
        if len(groups) == 2 and groups[0].path == groups[1].path:
            groups = groups[:1]
        return [*(part for group in groups for part in group.join_prefix()), *spec.argv]

    # -- starting it ---------------------------------------------------------------------------

    def launch(self, spec: Launch, **popen) -> subprocess.Popen:
        """Start ``spec`` in its cgroups; ``popen``: the stdio and any other Popen options beside ``spec.popen``."""
        spec = self._join_then_drop(spec)
        argv = self.command(spec)
        try:
            self.popen = subprocess.Popen(argv, **popen, **spec.popen)
        except BaseException:
            self.kill()  # nothing started: the cgroups made for it go now, not with the grader
            raise
        self.pid = self.popen.pid
        return self.popen

    def _join_then_drop(self, spec: Launch) -> Launch:
        """``spec`` with the uid dropped by ``setpriv`` after the cgroup prefixes rather than by Popen before them.

        cgroup v2 moves a process into a cgroup only for a writer who may also write the ``cgroup.procs`` of the
        common ancestor (the root), which a sandbox uid never may: the prefixes run as the grader instead."""
        if not self.use_cgroups or "user" not in spec.popen or shutil.which("setpriv") is None:
            return spec
        uid, gid = spec.popen["user"], spec.popen.get("group", spec.popen["user"])
        popen = {k: v for k, v in spec.popen.items() if k not in ("user", "group", "extra_groups")}
        setpriv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
        return dataclasses.replace(spec, argv=[*setpriv, *spec.argv], popen=popen)

    def adopt(self, pid: int) -> None:
        """The process started by someone else (jupyter_client) from ``command``: killed with the rest."""
        self.pid = pid

    # -- ending it -----------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL it and everything it started; safe to call twice. The cgroups are emptied, then removed.

        Order: the pids cgroup first (it lists whatever left the session), then the tree, session and
        orphans, then the memory cgroup (emptying it releases what the tmpfs pages charged).
        """
        cgroup, memcg, self.cgroup, self.memcg = self.cgroup, self.memcg, None, None
        if cgroup is not None:
            cgroup.kill_all()
        if self.pid is not None:
            proctree.kill_tree(self.pid, session=self.pid, spare=self.spare)
        if memcg is not None:
            memcg.kill_all()

    def wait(self, timeout: float) -> int | None:
        """Its exit status within ``timeout`` seconds (None if it is still running, or not started here)."""
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def reap(self, timeout: float = REAP_TIMEOUT) -> int | None:
        """Collect it after ``kill`` (else it stays a zombie); its orphans were collected by the kill."""
        return self.wait(timeout)

    def exit_description(self, code: int | None, known: dict[int, str] | None = None) -> str:
        """``describe_exit`` at this process's level."""
        return describe_exit(code, self.level, known)


def _unified(memory_group: Path, max_tasks: int) -> bool:
    """The memory cgroup is in cgroup v2's single hierarchy, where joining a pids cgroup after it would leave it:
    it then takes the pids limit too (True), where the pids controller is enabled for it."""
    if memory_group.parent != pids_cgroups.V2_ROOT or not (memory_group / "pids.max").exists():
        return False
    try:
        (memory_group / "pids.max").write_text(str(max_tasks))
    except OSError:
        return False
    return True


def describe_exit(code: int | None, level: str, known: dict[int, str] | None = None) -> str:
    """How the worker ended, for the student: ``code`` is its exit status (None: it would not end).

    ``known``: exit codes the program itself gives a meaning (runtime/worker.py's PROTOCOL_LOST).
    """
    if code is None:
        return "the worker stopped answering and was killed"
    if known and code in known:
        return known[code]
    if level == "bwrap" and code > 128:  # bwrap reports a signalled child as 128 + signal
        code = -(code - 128)
    if code < 0:
        sig = signal.Signals(-code) if -code in signal.Signals._value2member_map_ else None
        name = sig.name if sig else f"signal {-code}"
        return f"the worker was {SIGNAL_CAUSES.get(sig, 'ended by ' + name)} ({name})"
    return f"the worker exited with code {code} during the call (os._exit, or a crash in native code)"
