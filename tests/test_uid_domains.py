"""Sandbox uids seen from the host: a container's grader leases the same numbers from its own lock folder, so
its sandboxed processes must be neither reached by a host grader's sweep nor leased again while they run."""

from __future__ import annotations

import subprocess
import time

import pytest

from grader.sandbox import hostcaps, proctree, uids

pytestmark = pytest.mark.skipif(not hostcaps.is_root(), reason="sandbox uids need root")


@pytest.fixture
def foreign(monkeypatch):
    """A process of a sandbox uid in a PID namespace of its own, as a container's kernel looks from the host.
    It is started from here (unshare needs a parent), so it is taken for another domain's by hiding it from
    this grader's descendants: what decides is its namespace."""
    uid = uids.uid_range().stop - 1
    started = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "setpriv", f"--reuid={uid}",
                                f"--regid={uid}", "--clear-groups", "sleep", "300"])
    deadline = time.monotonic() + 30
    while not uids.processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setattr(proctree, "descendants", lambda root, table=None: set())
    yield uid
    monkeypatch.undo()
    started.kill()
    uids.kill_all(uid)
    started.wait(timeout=30)


def test_a_sweep_never_reaches_another_domains_processes(foreign):
    assert uids.foreign_processes(foreign)
    assert uids.kill_all(foreign, timeout=2)  # nothing of ours was left...
    time.sleep(0.2)
    assert uids.foreign_processes(foreign)    # ...and theirs still runs


def test_a_uid_another_domain_uses_is_not_leased(foreign, monkeypatch):
    monkeypatch.setenv("PA3_SANDBOX_UIDS", f"{foreign}-{foreign}")
    monkeypatch.setattr(uids, "_lease", None)
    with pytest.raises(uids.NoUid):
        uids.lease()


def test_our_own_processes_in_the_same_namespace_are_not_foreign():
    uid = uids.uid_range().stop - 2
    sleeper = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "300"])
    try:
        deadline = time.monotonic() + 30
        while not uids.processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert uids.processes_of(uid) and not uids.foreign_processes(uid)
        assert uids.kill_all(uid)  # it kills and collects its own (so Popen no longer sees the status)
        sleeper.wait(timeout=30)
        assert uids.processes_of(uid) == []
    finally:
        sleeper.kill()
