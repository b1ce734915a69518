"""SandboxedProcess: the one lifecycle (hand over, cgroups, launch or adopt, kill, reap) of the worker and the kernel."""  # noqa: E501

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader.sandbox import cgroup, hostcaps, isolation, proctree
from grader.sandbox.isolation import Launch, Mount
from grader.sandbox.limits import Limits
from grader.sandbox.process import SandboxedProcess, describe_exit
from tests.helpers import processes_with, wait_for_processes

# The child double-forks a daemon in its own session and waits for the middle process: the daemon is then
# nobody's descendant, found only by the pids cgroup or, re-parented to the grader, by the orphan sweep.
ESCAPING = """
import os, subprocess, sys, time
daemon = "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(600)\\n"
subprocess.Popen([sys.executable, "-c", daemon, sys.argv[1]]).wait()
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", sys.argv[1]])
print("ready", flush=True)
time.sleep(600)
"""


def _spec(folder: Path, marker: str) -> Launch:
    here = Mount(folder, "/work", writable=True)
    return isolation.wrap("process", [sys.executable, "-c", ESCAPING, marker], [here], here)


def _gone(marker: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_launched_process_is_killed_with_everything_it_started_and_reaped(tmp_path):
    marker = f"pa3-lifecycle-{uuid.uuid4().hex}"
    process = SandboxedProcess("process", Limits())
    popen = process.launch(_spec(tmp_path, marker), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    groups = [g.path for g in (process.cgroup, process.memcg) if g is not None]
    assert popen.stdout.readline().strip() == b"ready"
    assert len(wait_for_processes(marker, 3)) >= 3  # the child, its own child and the escaped daemon
    process.kill()
    code = process.reap()
    assert _gone(marker), processes_with(marker)
    assert code == -signal.SIGKILL
    assert process.exit_description(code).startswith("the worker was killed")
    assert not any(path.exists() for path in groups)  # emptied, then removed
    process.kill()  # twice is harmless
    popen.stdout.close()


def test_an_adopted_process_is_killed_like_a_launched_one(tmp_path):
    """As for the notebook kernel: the command is built here, someone else (jupyter_client) starts it."""
    marker = f"pa3-lifecycle-{uuid.uuid4().hex}"
    process = SandboxedProcess("process", Limits(), memory_cgroup=False, subreaper=False)
    spec = _spec(tmp_path, marker)
    argv = process.command(spec)
    assert process.memcg is None
    assert argv[-len(spec.argv):] == spec.argv
    popen = subprocess.Popen(argv, stdout=subprocess.PIPE, **spec.popen)  # start_new_session, as jupyter_client
    process.adopt(popen.pid)
    assert popen.stdout.readline().strip() == b"ready"
    group = process.cgroup.path if process.cgroup is not None else None
    process.kill()
    assert popen.wait(timeout=10) == -signal.SIGKILL
    assert process.reap() is None  # its launcher waits for it, not this
    if group is not None or proctree._subreaper:  # else the daemon escaped to init: nothing could find it
        assert _gone(marker), processes_with(marker)
    else:
        for pid in processes_with(marker):
            os.kill(int(pid), signal.SIGKILL)
    assert group is None or not group.exists()
    popen.stdout.close()


@pytest.mark.skipif(not cgroup.available(), reason="no writable pids cgroup tree here")
def test_a_launch_that_fails_leaves_no_cgroup(tmp_path):
    base = cgroup._base()
    mine = f"pa3-worker-{proctree.owner_tag()}-*"
    before = set(base.glob(mine))
    spec = _spec(tmp_path, "unused")
    spec.popen["cwd"] = str(tmp_path / "missing")
    with pytest.raises(OSError):
        SandboxedProcess("process", Limits()).launch(spec)
    assert set(base.glob(mine)) == before


@pytest.mark.skipif(not hostcaps.is_root(), reason="handing folders to another uid needs root")
def test_hand_over_gives_the_folders_to_the_uid_it_drops_to(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        (folder / "inner").mkdir(parents=True)
    process = SandboxedProcess("user", Limits(), cgroups=False, subreaper=False)
    process.hand_over(Launch([], drop_uid=54321), [first, None, second])
    assert process.uid == 54321
    for folder in (first, second, first / "inner"):
        assert folder.stat().st_uid == 54321
    assert first.stat().st_mode & 0o777 == 0o700
    process.hand_over(Launch([]), [tmp_path])  # drops to no uid: nothing changes hands
    assert process.uid is None and tmp_path.stat().st_uid == os.getuid()


@pytest.mark.skipif(not cgroup.available(), reason="no writable pids cgroup tree here")
@pytest.mark.parametrize("dropped_by_popen", [True, False])
def test_the_cgroups_are_joinable_by_whoever_runs_the_prefix(dropped_by_popen):
    """Popen dropping the uid (the worker): the sandbox uid writes cgroup.procs; setpriv in the argv (the
    kernel): the prefix still runs as the grader, and the file stays the grader's."""
    spec = Launch(["true"], {"user": 54321} if dropped_by_popen else {}, drop_uid=54321)
    process = SandboxedProcess("user", Limits())
    argv = process.command(spec)
    try:
        groups = [g for g in (process.memcg, process.cgroup) if g is not None]
        assert argv == [*(part for g in groups for part in g.join_prefix()), "true"]  # memory first, then pids
        for group in groups:
            owner = (group.path / "cgroup.procs").stat().st_uid
            assert owner == (54321 if dropped_by_popen else os.getuid())
    finally:
        process.kill()
    assert not any(g.path.exists() for g in groups)


@pytest.mark.skipif(not cgroup.available() or isolation.unavailable_reason("user") is not None,
                    reason="needs a writable pids cgroup tree and the user level (root)")
def test_a_dropped_uid_is_put_in_its_cgroups_by_the_grader(tmp_path):
    """cgroup v2 lets a process move itself into a cgroup only if it may also write the common ancestor's
    cgroup.procs, which a sandbox uid never may: the prefixes run as the grader, setpriv drops after them."""
    tmp_path.chmod(0o711)
    here = Mount(tmp_path, "/work", writable=True)
    show = "import os; print(os.getuid(), os.getgid(), os.getgroups(), open('/proc/self/cgroup').read())"
    spec = isolation.wrap("user", [sys.executable, "-c", show], [here], here)
    process = SandboxedProcess("user", Limits(), subreaper=False)
    process.hand_over(spec, [tmp_path])
    try:
        popen = process.launch(spec, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = popen.communicate(timeout=60)
        groups = [g.path for g in (process.memcg, process.cgroup) if g is not None]
        assert popen.returncode == 0, err
        uid, gid, extra, where = out.decode().split(" ", 3)
        assert int(uid) == int(gid) == spec.drop_uid and extra == "[]"
        assert all(f"{path.name}\n" in where for path in groups), where  # in each of them (one under v2)
        assert all((path / "cgroup.procs").stat().st_uid == os.getuid() for path in groups)  # never handed over
    finally:
        process.kill()
    assert not any(path.exists() for path in groups)


def test_exit_descriptions():
    assert describe_exit(None, "user") == "the worker stopped answering and was killed"
    assert describe_exit(86, "bwrap", {86: "lost"}) == "lost"
    killed = "the worker was killed (out of memory, over the process limit, or stopped by the grader) (SIGKILL)"
    assert describe_exit(128 + 9, "bwrap") == killed  # bwrap reports a signalled child as 128 + signal
    assert describe_exit(-9, "process") == killed
    assert describe_exit(137, "process").startswith("the worker exited with code 137")
    assert describe_exit(-signal.SIGXCPU, "user") == "the worker was stopped: CPU time limit exceeded (SIGXCPU)"
