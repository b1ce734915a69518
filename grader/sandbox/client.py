"""The trusted side of the sandbox: start a worker, send it calls, decode what comes back.

Nothing the worker sends is unpickled or evaluated (see runtime/codec.py). A worker
that dies, hangs or breaks the protocol is killed with everything it started and
replaced by a fresh one on the next call; the failed call raises a SandboxError
saying what happened.

The worker runs student code in its own process, so student code can write to, read
from or close the protocol's pipes. The grader therefore never blocks on them (both
ends are non-blocking, every read and write has a deadline), matches each reply to its
request by id, caps what one frame and one test may bring back, and treats anything
out of turn as the end of that worker. A thread or process a call leaves running could write
to the pipes later: it ends the worker as soon as the call returns, charged to that call
(running.py), so a later call, another member's, never pays for it, however fast the machine
or late the bytes. Student output is drained by threads: the first
``Limits.output_bytes`` are kept, the rest is spliced to /dev/null, so printing costs
only time.

Starting, killing and reaping the worker process (its uid, cgroups and whole tree) is
process.py's ``SandboxedProcess``, shared with the notebook kernel; the errors are in errors.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.fstree import remove_tree
from grader.sandbox import hostcaps, isolation, pipes, running, scratch
from grader.sandbox.drain import Drain as _Drain
from grader.sandbox.errors import CallTimedOut, DeadlineReached, SandboxError, StudentRaised, Unavailable, WorkerDied
from grader.sandbox.limits import Limits
from grader.sandbox.process import SandboxedProcess, describe_exit
from grader.sandbox.runtime.codec import (
    MAX_JSON,
    FrameTooLarge,
    Handle,
    ProtocolError,
    decode,
    encode,
    read_frame,
    write_frame,
)

STARTUP_TIMEOUT = 60.0
DEATH_WAIT = 5.0  # s a worker that closed its pipe gets to finish dying, so that its exit status can be told
PROTOCOL_LOST = 86  # runtime/worker.py exits with it when its pipes to the grader are gone or corrupted
KNOWN_EXITS = {PROTOCOL_LOST: "the worker lost its connection to the grader: does your code close, read from or "
                              "write to file descriptors it did not open?"}


class Remote:
    """An object living in the worker. ``call`` runs a method, ``get``/``set`` read and write attributes or keys."""

    def __init__(self, sandbox: "Sandbox", handle: Handle, generation: int) -> None:
        self._sandbox, self._handle, self._generation = sandbox, handle, generation
        self.type_name = handle.type_name

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        return self._sandbox._request({"op": "call", "target": self._ref(), "method": method},
                                      args, kwargs, timeout, key=f"{self.type_name}.{method}")

    def step(self, method: str, *args, keep: bool = True, **kwargs) -> tuple[dict, tuple, dict]:
        """A call for ``Sandbox.sequence``; ``keep=False`` leaves its result in the worker (for ``Earlier``)."""
        return {"op": "call", "target": self._ref(), "method": method, "keep": keep}, args, kwargs

    def step_set(self, *path, value) -> tuple[dict, tuple, dict]:
        """An assignment for ``Sandbox.sequence`` (like ``set``)."""
        return {"op": "set", "target": self._ref(), "path": list(path), "keep": False}, (value,), {}

    def call_echo(self, method: str, *args, timeout: float | None = None) -> tuple:
        """(result, arguments as the worker holds them after the call): shows whether the method modified its inputs."""
        reply = self._sandbox._request({"op": "call", "target": self._ref(), "method": method, "echo_args": True},
                                       args, None, timeout, key=f"{self.type_name}.{method}")
        if not (isinstance(reply, dict) and isinstance(reply.get("args"), list)):
            raise WorkerDied("the worker sent a malformed reply")
        return reply.get("result"), tuple(reply["args"])

    def get(self, *path):
        return self._sandbox._request({"op": "get", "target": self._ref(), "path": list(path)}, key=None)

    def set(self, *path, value) -> None:
        self._sandbox._request({"op": "set", "target": self._ref(), "path": list(path)}, value=value, key=None)

    @property
    def handle(self) -> Handle:
        """This object as a value to send back (an argument, or a value to ``set``)."""
        self._ref()
        return self._handle

    def _ref(self) -> dict:
        if self._generation != self._sandbox.generation:
            raise WorkerDied("this object belonged to a worker that has since been replaced")
        return {"$h": self._handle.id, "type": self.type_name}

    def __repr__(self) -> str:
        return f"<{self.type_name} in the sandbox>"


class Sandbox:
    """One submission's worker. Use as a context manager; ``new`` and ``function`` reach student code."""

    def __init__(self, submission: Path, isolation_level: str | None = "auto", limits: Limits = Limits(),
                 call_timeout: float = 5.0, blocked_modules: dict[str, str] | None = None,
                 use_cgroup: bool = True) -> None:
        self.submission = Path(submission)
        self.level = isolation.resolve(isolation_level)
        self.limits = limits
        self.call_timeout = call_timeout
        self.blocked = dict(blocked_modules or {})
        self.bad_members: dict[str, str] = {}   # member -> why it is not called again
        self.crashes: dict[str, int] = {}
        self.generation = 0  # workers started so far; remote handles carry it
        self.use_cgroup = use_cgroup
        self.description = isolation.describe(self.level)
        self._proc: SandboxedProcess | None = None  # the worker now running, its cgroups and its kill
        self._local = None
        self._drains: list[_Drain] = []
        self._stage: Path | None = None
        self._next_id = 0
        self._reply_left = limits.reply_bytes
        self._tmp: Path | None = None             # private TMPDIR at the user and process levels
        self._folder: Path | None = None
        self._original: set[str] | None = None    # the working copy's entries before any student code ran
        self._baseline = (0, 0)
        self._uid: int | None = None
        self._since = 0.0
        self._running: running.Snapshot | None = None  # what the worker ran when it came up (None: not seen)
        # Set by the caller: no call runs past it, and a call in progress is stopped at it.
        self.deadline_at: float | None = None
        self.deadline_reason = "the time budget for this part of the grading was used up"

    def begin_test(self) -> None:
        """A new test starts: its replies get a fresh ``Limits.reply_bytes`` budget."""
        self._reply_left = self.limits.reply_bytes

    @property
    def received_in_test(self) -> int:
        """Array bytes received since ``begin_test``."""
        return self.limits.reply_bytes - self._reply_left

    @property
    def restarts(self) -> int:
        """Workers replaced after a death, a timeout, a protocol break or a disk overrun."""
        return max(0, self.generation - 1)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        if self.level == "none":
            self._start_local()
            return
        # First: it notes the grader's own children (a notebook's, pytest's), never taken for the worker's orphans.
        process = SandboxedProcess(self.level, self.limits, cgroups=self.use_cgroup)
        stdio = not hostcaps.fd_passing()  # Windows: the protocol goes over the worker's stdin/stdout
        request_r, request_w = (None, None) if stdio else os.pipe()
        response_r, response_w = (None, None) if stdio else os.pipe()
        folder = self._worker_folder()
        # TMPDIR and HOME: bwrap's sized tmpfs, elsewhere a private folder inside the worker's own copy
        # (counted in its disk budget, and never in a /tmp that other students or a full disk share).
        spec = isolation.launch(self.level, folder, None if stdio else (request_r, response_w), self.limits,
                                self._tmp)
        process.hand_over(spec, [folder, self._tmp])
        self._folder, self._uid = folder, spec.drop_uid
        if self._original is None:
            self._since = time.time() - 1  # what the sandbox uid made after this is this sandbox's
            self._original = set(os.listdir(folder))
            self._baseline = scratch.measure(folder, self.limits.work_files)
        try:
            popen = process.launch(spec, stdin=subprocess.PIPE if stdio else subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        finally:
            for fd in (request_r, response_w):  # the worker's ends: only it holds them now
                if fd is not None:
                    os.close(fd)
        self._proc = process
        if stdio:  # own copies, closed by _kill like the pipes; the worker sends prints to stderr
            request_w, response_r = os.dup(popen.stdin.fileno()), os.dup(popen.stdout.fileno())
            popen.stdin.close()
            popen.stdout.close()
        self._request_fd, self._response_fd = request_w, response_r
        if hostcaps.pollable():  # the grader never blocks on the worker's pipes (elsewhere: threaded reads)
            os.set_blocking(request_w, False)
            os.set_blocking(response_r, False)
        self._drains = [_Drain(popen.stderr, self.limits.output_bytes)] if stdio else \
            [_Drain(popen.stdout, self.limits.output_bytes), _Drain(popen.stderr, self.limits.output_bytes)]
        self.generation += 1
        self._running = None
        try:
            self.info = self._exchange({"op": "ping"}, [], STARTUP_TIMEOUT)
        except SandboxError as exc:
            raise WorkerDied(f"the sandboxed worker did not start ({self.description}): {exc}") from None
        self._running = running.snapshot(self._proc)

    def _worker_folder(self) -> Path:
        """The folder the worker gets. A dropped uid must reach it, so it is staged in a fresh 0711
        temporary folder when its own parents are closed (e.g. under a 0700 home or pytest's tmp)."""
        if not isolation.drops_privileges(self.level) or isolation.others_can_reach(self.submission.parent):
            return self.submission
        if self._stage is None:
            self._stage = Path(tempfile.mkdtemp(prefix="pa3-worker-"))
            self._stage.chmod(0o711)
            shutil.copytree(self.submission, self._stage / "submission", symlinks=False)
        return self._stage / "submission"

    def _start_local(self) -> None:
        spec = importlib.util.spec_from_file_location("_pa3_local_worker", isolation.RUNTIME_DIR / "worker.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if str(self.submission) not in sys.path:
            sys.path.insert(0, str(self.submission))
        self._local = module.Worker(str(self.submission))
        self._local_encode = module.encode  # the worker's own codec module, so its Handle type is recognised
        self.generation += 1
        self.info = {"pid": os.getpid(), "uid": os.getuid()}

    def close(self) -> None:
        """Stop the worker and everything it started; safe to call twice."""
        if self._proc is not None:
            self._kill()
        self._local = None
        for folder in (self._tmp, self._stage):
            if folder is not None:
                remove_tree(folder)  # whatever tree the worker built in it
        self._tmp = self._stage = None

    def _kill(self) -> None:
        """Stop the worker and everything it started, collect it and its output, remove what it wrote."""
        process, self._proc = self._proc, None
        for fd in (self._request_fd, self._response_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        process.kill()
        process.reap()
        for drain in self._drains:  # the output pipes closed with the last process holding them
            drain.join(timeout=2)
        self._drains = []
        self._clear_writes()

    def _clear_writes(self) -> None:
        """Outside bwrap, the next worker starts from the working copy as it was (bwrap's tmpfs just vanishes)."""
        if self.level == "bwrap" or self._folder is None:
            return
        scratch.remove_new(self._folder, self._original or set())
        if self._tmp is not None:
            scratch.remove_new(self._tmp, set())
        if self._uid is not None and self.level == "user":
            scratch.remove_owned(self._uid, self._since)

    def _check_writes(self) -> None:
        """Outside bwrap, the disk budget is checked during and after every call (RLIMIT_FSIZE bounds each
        file meanwhile); over it, the worker is stopped and what it wrote removed."""
        excess = self._writes_over_budget()
        if excess:
            self._kill()
            raise WorkerDied(excess)

    def _writes_over_budget(self) -> str | None:
        if self.level == "bwrap" or self._folder is None:
            return None
        cap = self.limits.work_files
        used, entries = scratch.measure(self._folder, cap + self._baseline[1])
        used, entries = used - self._baseline[0], entries - self._baseline[1]
        for folder in [self._tmp] if self._tmp is not None else []:
            more = scratch.measure(folder, cap)
            used, entries = used + more[0], entries + more[1]
        if self._uid is not None and self.level == "user":
            for path in scratch.owned_entries(self._uid, self._since):
                try:
                    more = scratch.measure(path, cap) if os.path.isdir(path) else (os.lstat(path).st_blocks * 512, 0)
                except OSError:
                    continue
                used, entries = used + more[0], entries + more[1] + 1
        if used > self.limits.work_bytes or entries > cap:
            return (f"your code wrote {used >> 20} MB in {entries} files and folders; at most "
                    f"{self.limits.work_bytes >> 20} MB in {cap} entries are allowed. The worker was stopped and "
                    f"what it wrote was removed")
        return None

    # -- calls -------------------------------------------------------------------------------

    def new(self, module: str, name: str, *args, timeout: float | None = None, **kwargs):
        """Call ``module.name(*args, **kwargs)`` in the worker: a constructor or a function."""
        if module in self.blocked:
            raise Unavailable(self.blocked[module])
        return self._request({"op": "call", "target": {"module": module, "name": name}, "method": None},
                             args, kwargs, timeout, key=f"{module}.{name}")

    def doubles(self, specs: list[dict]) -> tuple:
        """Test doubles in the worker (runtime/doubles.py) answering from ``specs``: (journal, [double, ...])."""
        journal, made = self._request({"op": "doubles"}, value=specs, key=None)
        return journal, made

    def sequence(self, steps: list[tuple[dict, tuple, dict]], timeout: float, key: str) -> list:
        """Run ``Remote.step`` calls in order in one round trip; ``Earlier(i)`` passes step i's result on.

        ``key`` names the whole sequence for the not-called-again rule.
        """
        (calls, buffers) = encode([[list(args), dict(kwargs)] for _, args, kwargs in steps])
        message = {"op": "sequence", "calls": [dict(m, value=a[0]) if m["op"] == "set" else dict(m, args=a, kwargs=k)
                                               for (m, _, _), (a, k) in zip(steps, calls)]}
        return self._request(message, timeout=timeout, key=key, buffers=buffers)

    def _request(self, message: dict, args=(), kwargs=None, timeout: float | None = None, value=None,
                 key: str | None = None, buffers: list[bytes] | None = None):
        if key in self.bad_members:
            raise Unavailable(self.bad_members[key])
        buffers = buffers or []
        if message["op"] == "call":  # one encoding, so args and kwargs share the buffer numbering
            (message["args"], message["kwargs"]), buffers = encode([list(args), dict(kwargs or {})])
        elif message["op"] in ("set", "doubles"):
            message["value"], buffers = encode(value)
        if self.level == "none":
            return self._local_request(message, buffers)
        timeout = timeout or self.call_timeout
        if self._time_left() <= 0:
            raise DeadlineReached(self.deadline_reason, started=False)
        if self._proc is None:
            self.start()
        # Decided before the call: a wait cut by the grading's deadline is the grader's limit, not the student's.
        by_deadline = self._time_left() <= timeout
        try:
            try:
                return self._exchange(message, buffers, timeout)
            finally:
                if self._proc is not None:
                    self._check_writes()
        except CallTimedOut as exc:
            if by_deadline or self._time_left() <= 0:
                raise DeadlineReached(self.deadline_reason, started=True) from None
            if key:
                self.bad_members[key] = (f"not called again: {key} did not return within {timeout:g} s "
                                         "in an earlier test")
            raise exc
        except WorkerDied as exc:
            if key:
                self.crashes[key] = self.crashes.get(key, 0) + 1
                if self.crashes[key] >= 2:
                    self.bad_members[key] = f"not called again: {key} ended the worker twice ({exc})"
            raise exc

    def _watch(self) -> None:
        """Called while waiting for a reply: the disk budget holds during a call, not only after it."""
        excess = self._writes_over_budget()
        if excess:
            raise _OverBudget(excess)

    def _time_left(self) -> float:
        return float("inf") if self.deadline_at is None else self.deadline_at - time.monotonic()

    def _exchange(self, message: dict, buffers: list, timeout: float):
        """One request and its reply, both within ``timeout`` (and the sandbox's deadline)."""
        deadline = time.monotonic() + min(timeout, self._time_left())
        self._next_id += 1
        request_id = message["id"] = self._next_id
        watch = None if self.level == "bwrap" else self._watch  # bwrap's tmpfs sizes bound it there
        try:
            if _readable_now(self._response_fd):
                raise ProtocolError("it wrote to the grader between calls")
            write_frame(self._request_fd, message, buffers, lambda fd, data: _write_before(fd, data, deadline))
            reply, reply_buffers = read_frame(self._response_fd,
                                              lambda fd, view: _fill_before(fd, view, deadline, watch),
                                              max_payload=self._reply_left, max_json=min(MAX_JSON, self._reply_left))
            self._reply_left -= sum(len(b) for b in reply_buffers)
            if not isinstance(reply, dict) or reply.get("id") != request_id:
                raise ProtocolError("a reply came out of turn")
            self._nothing_left_running()
            if _readable_now(self._response_fd):  # checked after the count: a writer that ended wrote first
                raise ProtocolError("it wrote to the grader after its reply")
            return self._unpack(reply, reply_buffers)
        except _OverBudget as exc:
            self._kill()
            raise WorkerDied(str(exc)) from None
        except _LeftRunning as exc:
            self._kill()
            raise WorkerDied(f"your code left {exc} running after it returned, able to write to the grader's "
                             f"pipes later, out of turn; the worker was stopped and replaced. Join every thread and "
                             f"wait for every process your code starts before it returns") from None
        except TimeoutError:
            self._kill()
            raise CallTimedOut(f"did not return within {timeout:g} s; the worker was stopped") from None
        except (EOFError, BrokenPipeError, ConnectionError):
            status = self._death()
            raise WorkerDied(status) from None
        except FrameTooLarge as exc:
            self._kill()
            raise WorkerDied(f"your code sent the grader more data than it accepts ({exc}; each test may receive "
                             f"at most {self.limits.reply_bytes >> 20} MB); the worker was stopped") from None
        except (ProtocolError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
            self._kill()
            text = str(exc)[:300] if isinstance(exc, ProtocolError) else type(exc).__name__
            raise WorkerDied(f"the connection between the grader and the process running your code was "
                             f"corrupted ({text}): does your code write to, read from or close file descriptors "
                             f"it did not open? The worker was stopped and replaced") from None

    def _nothing_left_running(self) -> None:
        """Raise _LeftRunning when the call left threads or processes running.

        One that is ending (a joined thread, a forked helper exiting) gets SETTLE seconds to be gone."""
        if self._running is None:
            return
        settle_at = time.monotonic() + SETTLE
        while True:
            now = running.snapshot(self._proc)
            extra = 0 if now is None else running.left_running(self._running, now)
            if not extra:
                return
            if time.monotonic() >= settle_at:
                raise _LeftRunning(f"{extra} thread{'s' if extra > 1 else ''} or process{'es' if extra > 1 else ''}")
            time.sleep(0.005)

    def _unpack(self, reply: dict, buffers):
        if "error" in reply and isinstance(reply["error"], dict):
            err = reply["error"]
            text = lambda k, n=4000: str(err.get(k, ""))[:n]  # noqa: E731
            raise StudentRaised(text("type", 100) or "Exception", text("message"), text("traceback"), text("detail"))
        if "ok" not in reply:
            raise ProtocolError("a reply with neither a value nor an error")
        generation = self.generation
        return decode(reply["ok"], buffers, lambda hid, type_name: Remote(self, Handle(hid, type_name), generation))

    def _local_request(self, message: dict, buffers: list[bytes]):
        worker = self._local or (self._start_local() or self._local)
        try:
            # Copies both ways, as the pipe would make: neither side may alias the other's arrays.
            value = worker.handle(json.loads(json.dumps(message)), [bytearray(b) for b in buffers])
            tree, out = self._local_encode(value, worker.register)
            return self._unpack({"ok": tree}, [bytearray(b) for b in out])
        except SandboxError:
            raise
        except BaseException as exc:  # noqa: BLE001 - same contract as the worker's reply
            err = worker.error(exc)
            raise StudentRaised(err["type"], err["message"], err["traceback"], err["detail"]) from None

    def _death(self) -> str:
        """Why the worker ended (it closed its pipe): its exit status and the end of its output."""
        code = self._proc.wait(DEATH_WAIT)
        stderr_tail = self._drains[-1].text()[-600:].strip() if self._drains else ""
        self._kill()
        return (describe_exit(code, self.level, KNOWN_EXITS)
                + (f"; its last output: {stderr_tail}" if stderr_tail else ""))


def _readable_now(fd: int) -> bool:
    """Bytes are waiting on ``fd`` (the worker's reply pipe, between calls: they came out of turn)."""
    if not hostcaps.pollable():
        return False  # no poll (Windows): out-of-turn bytes show up as a malformed reply instead
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(event & select.POLLIN for _, event in poller.poll(0))


class _OverBudget(Exception):
    """The worker wrote more than its disk budget while the grader waited for its reply."""


class _LeftRunning(Exception):
    """The call returned with threads or processes still running."""


SETTLE = 0.5  # s a thread or process that is ending gets to be gone after the call returned (margin: ~10 ms seen)


WATCH_INTERVAL = 0.1  # s between disk-budget checks while a call runs (user and process levels)


def _wait(fd: int, events: int, deadline: float, watch=None) -> None:
    """Block until ``fd`` is ready for ``events`` (or hung up); TimeoutError at ``deadline``.
    ``watch()`` runs every WATCH_INTERVAL of waiting and may raise to stop it."""
    poller = select.poll()
    poller.register(fd, events)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if poller.poll(min(remaining, WATCH_INTERVAL if watch else 1.0) * 1000):
            return
        if watch is not None:
            watch()


def _fill_before(fd: int, view: memoryview, deadline: float, watch=None) -> None:
    """Fill ``view`` from a non-blocking ``fd`` by ``deadline`` (no copy: the bytes land in place)."""
    if not hostcaps.pollable():  # Windows: blocking reads, each waited on in a thread
        view[:] = pipes.read_before_threaded(fd, len(view), deadline, lambda: False, TimeoutError, TimeoutError)
        return
    got = 0
    while got < len(view):
        try:
            n = os.readv(fd, [view[got:]])
        except BlockingIOError:
            _wait(fd, select.POLLIN, deadline, watch)
            continue
        if not n:
            raise EOFError("the worker closed its end of the pipe")
        got += n


def _write_before(fd: int, data, deadline: float) -> None:
    """Write all of ``data`` to a non-blocking ``fd`` by ``deadline``."""
    view = memoryview(data).cast("B")
    if not hostcaps.pollable():  # Windows: a blocking write, waited on in a thread
        pipes.write_before_threaded(fd, view, deadline, TimeoutError)
        return
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            _wait(fd, select.POLLOUT, deadline)

