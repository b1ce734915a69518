"""Grade one submission in its own process; importable on Dask workers. Never raises.

The submission travels as zip bytes, so a worker on another machine needs no shared file system.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from grader.budget import BATCH_TIMEOUT, effective_deadline

_running: set[subprocess.Popen] = set()
_lock = threading.Lock()


def pack_submission(path: Path) -> bytes:
    """The submission as zip bytes (a zip is sent as is; a folder is zipped in memory)."""
    path = Path(path)
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                zf.write(file, file.relative_to(path).as_posix())
    return buffer.getvalue()


def grade_one(payload: bytes, options: dict) -> dict:
    """{"status", "seconds", "record" (GradeResult as a dict), "gradescope" (results.json), "message"}."""
    start = time.monotonic()
    outcome = {"status": "error", "seconds": 0.0, "record": None, "gradescope": None, "message": ""}
    with tempfile.TemporaryDirectory(prefix="pa3-batch-") as tmp:
        tmp = Path(tmp)
        (tmp / "submission.zip").write_bytes(payload)
        argv = [sys.executable, "-m", "grader.cli", "grade", str(tmp / "submission.zip"), "--results",
                str(tmp / "out" / "results.json"), "--record", str(tmp / "out" / "record.json"), "--quiet"]
        if not options.get("notebook", True):
            argv.append("--no-notebook")
        for flag in ("isolation", "data_dir", "accuracy_threshold"):
            if options.get(flag) is not None:
                argv += [f"--{flag.replace('_', '-')}", str(options[flag])]
        timeout = float(options.get("timeout") or BATCH_TIMEOUT)
        # The grader stops itself (and writes its results) well before this process would kill it.
        argv += ["--deadline", f"{effective_deadline(options.get('deadline'), timeout):g}"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        with _lock:
            _running.add(proc)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            outcome.update(status="timeout", message=f"grading took longer than {timeout:g} s and was stopped")
            stderr = ""
        finally:
            with _lock:
                _running.discard(proc)
        record_path = tmp / "out" / "record.json"
        if outcome["status"] != "timeout":
            if proc.returncode == 0 and record_path.is_file():
                outcome["record"] = json.loads(record_path.read_text())
                outcome["gradescope"] = json.loads((tmp / "out" / "results.json").read_text())
                intake = outcome["record"].get("extra", {}).get("intake", "ok")
                outcome["status"] = "graded" if intake == "ok" else "malformed"
                outcome["message"] = "" if intake == "ok" else intake
            else:
                outcome["message"] = f"the grader exited with code {proc.returncode}: {stderr.strip()[-1500:]}"
    outcome["seconds"] = round(time.monotonic() - start, 3)
    return outcome


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
