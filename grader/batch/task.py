"""Grade one submission in its own process; importable on Dask workers. Never raises.

The submission travels as zip bytes, so a worker on another machine needs no shared file system.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

from grader import fstree, submission, workspace
from grader import threads as thread_budget
from grader.batch import lifeline
from grader.batch.usage import TreeUsage
from grader.budget import BATCH_TIMEOUT, effective_deadline
from grader.options import GradeOptions
from grader.sandbox import proctree

_running: set[subprocess.Popen] = set()
_lock = threading.Lock()


def pack_submission(path: Path) -> bytes:
    """The submission as zip bytes (a zip is sent as is; a folder is zipped in memory). Never raises.

    A folder is walked like the intake walks it (no links, special files, undecodable names or
    folders past the depth and entry bounds), so the zip holds what the intake would have taken.
    Local pools pass the folder itself instead, so that the intake's notes on what it refused are kept.
    """
    path = Path(path)
    buffer = io.BytesIO()
    try:
        if path.is_file():
            return path.read_bytes()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for found in fstree.walk(path, submission.BOUNDS, fstree.WalkReport(), skip=submission._junk,
                                     wanted=submission.REQUIRED_FILES):
                if found.size <= submission.MAX_FILE:
                    try:
                        zf.writestr("/".join(found.parts), fstree.read_file(found, submission.MAX_FILE))
                    except OSError:
                        pass
    except Exception:  # noqa: BLE001 - an unreadable submission is graded as such, never a crashed batch
        pass
    return buffer.getvalue()


def grade_one(payload: bytes | str, options: GradeOptions, timeout: float = BATCH_TIMEOUT,
              name: str = "submission.zip") -> dict:
    """Grade ``payload`` (zip bytes received as ``name``, or the path of a folder or zip on this machine) with
    ``options`` in a `pa3 grade` process, killed after ``timeout`` seconds.

    Returns {"status", "seconds", "cpu_seconds", "threads", "cores", "host", "record" (GradeResult as a dict),
    "gradescope" (results.json), "message"}. ``options.threads``: this grading's thread budget from the
    batch plan (None: torch's own default). ``cpu_seconds`` covers the whole grading process tree, the
    sandboxed kernel included.
    """
    start = time.monotonic()
    threads = options.threads
    outcome = {"status": "error", "seconds": 0.0, "cpu_seconds": 0.0, "threads": threads,
               "cores": thread_budget.cores(), "host": socket.gethostname(), "record": None, "gradescope": None,
               "message": ""}
    # Named after this process, so that the next batch removes it if this one is killed mid-grading.
    workspace.reclaim_stale(Path(tempfile.gettempdir()), "pa3-batch-")
    with tempfile.TemporaryDirectory(prefix=f"pa3-batch-{proctree.owner_tag()}-") as tmp:
        tmp = Path(tmp)
        if isinstance(payload, str):
            source = payload
        else:
            archive = tmp / (Path(name).name if name.lower().endswith(".zip") and Path(name).name else "submission.zip")
            archive.write_bytes(payload)  # under its own name, so that messages name the file the student sent
            source = str(archive)
        timeout = float(timeout or BATCH_TIMEOUT)
        # The grader stops itself (and writes its results) well before this process would kill it.
        options = replace(options, deadline=effective_deadline(options.deadline, timeout))
        argv = [sys.executable, "-m", "grader.cli", "grade", source, "--results",
                str(tmp / "out" / "results.json"), "--record", str(tmp / "out" / "record.json"), "--quiet",
                *options.to_argv()]
        # The grader's own process and its evaluator stay within the budget too.
        env = os.environ | thread_budget.environment(threads) | lifeline.environment()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env=env)
        with _lock:
            _running.add(proc)
        try:
            with TreeUsage(proc.pid) as usage:
                _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            outcome.update(status="timeout", message=f"grading took longer than {timeout:g} s and was stopped")
            stderr = ""
            _reclaim_after_kill()
        finally:
            with _lock:
                _running.discard(proc)
        record_path = tmp / "out" / "record.json"
        if outcome["status"] != "timeout":
            if proc.returncode == 0 and record_path.is_file():
                outcome["record"] = json.loads(record_path.read_text())
                outcome["gradescope"] = json.loads((tmp / "out" / "results.json").read_text())
                extra = outcome["record"].get("extra", {})
                intake = extra.get("intake", "ok")
                outcome["status"] = "graded" if intake == "ok" else "malformed"
                # A missing, misnamed or broken file is graded (its tests fail) and named for the TA.
                problems = [str(p) for p in (extra.get("problems") or {}).values()]
                outcome["message"] = "; ".join(problems) if intake == "ok" else intake
                if extra.get("cut_short"):  # it stopped itself at its deadline: results written, grading partial
                    outcome["status"] = "timeout"
                    outcome["message"] = "; ".join(filter(None, [
                        f"{extra['cut_short']} test(s) cut short by the time limit (results were written)",
                        outcome["message"]]))
            else:
                outcome["message"] = f"the grader exited with code {proc.returncode}: {stderr.strip()[-1500:]}"
    outcome["seconds"] = round(time.monotonic() - start, 3)
    outcome["cpu_seconds"] = round(usage.cpu_seconds, 3)
    return outcome


def _reclaim_after_kill() -> None:
    """A grader killed from outside cannot sweep its sandbox uid: do it for it (and its cgroups)."""
    try:
        from grader.sandbox import cgroup, uids

        uids.reclaim_free()
        base = cgroup._base()
        if base is not None:
            cgroup.reclaim_stale(base)
    except Exception:  # noqa: BLE001 - clean-up of someone else's leftovers must never stop the batch
        pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_running() -> None:
    """Stop every grading process this module started (Ctrl-C in the coordinator)."""
    with _lock:
        for proc in list(_running):
            _kill(proc)
