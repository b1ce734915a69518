"""The sandboxed worker: imports the student's modules and serves calls from the grader.

Started as ``python -I worker.py REQUEST_FD RESPONSE_FD SUBMISSION_DIR LIMITS_JSON``. It sets its
own resource limits before any student code is imported, then answers one frame
per request:

    {"op": "call", "target": {"module": m, "name": n} | {"$h": id}, "method": str|None, "args": [...], "kwargs": {...},
     "echo_args": bool}
    {"op": "get",  "target": {"$h": id}, "path": [attr or key or index, ...]}
    {"op": "set",  "target": {"$h": id}, "path": [...], "value": ...}
    {"op": "ping"}
    {"op": "doubles", "value": [spec, ...]}   test doubles answering from the grader's data (doubles.py):
                                               [journal, [double, ...]] as handles
    {"op": "sequence", "calls": [call or set, ...]}   in order, one round trip; an argument {"$r": i} is
                                               the result of call i, and "keep": false sends None back

with ``{"id": same as the request, "ok": value}`` or ``{"id", "error": {"type", "message", "traceback"}}``.
Objects that cannot be sent stay here and travel as handles. Only the standard library and NumPy are imported.

Student code runs in this process and can reach the protocol's pipes (/proc/self/fd): the grader
does not rely on it leaving them alone. Every reply carries its request's id, and the grader
treats anything out of turn, malformed or oversized as the end of this worker.
"""

import importlib
import json
import os
import sys
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from codec import MAX_JSON, MAX_PAYLOAD, Handle, ProtocolError, decode, encode, frame_parts, read_frame  # noqa: E402
from doubles import make as make_doubles  # noqa: E402

try:
    import resource
except ImportError:  # Windows: no rlimits; the grader's per-call timeout still applies, and the report says so
    resource = None
LIMITS = {} if resource is None else {
    "as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE, "nofile": resource.RLIMIT_NOFILE}
MAX_TEXT = 4000
PROTOCOL_LOST = 86  # exit status: student code closed, redirected or wrote into the protocol's pipes


def apply_limits(limits):
    for name, value in limits.items():
        if value is None or name not in LIMITS:
            continue
        soft = value
        hard = value + 5 if name == "cpu" else value  # SIGXCPU first, SIGKILL 5 s later
        try:
            resource.setrlimit(LIMITS[name], (soft, hard))
        except (ValueError, OSError):
            # A limit above the inherited hard limit cannot be raised: keep the stricter one.
            current = resource.getrlimit(LIMITS[name])[1]
            try:
                resource.setrlimit(LIMITS[name], (min(soft, current), current))
            except (ValueError, OSError):  # macOS refuses some (RLIMIT_AS): keep the others rather than not start
                pass


def stop_library_threads():
    """Stop the threads a library leaves running by itself after honest use: the grader ends a worker that
    keeps any thread running after a call (client.py), so these are ended here first. tqdm's monitor thread
    (started by the first progress bar, kept after the bar closes) is the one known."""
    try:
        kind = getattr(sys.modules.get("tqdm._monitor"), "TMonitor", None)
        if not isinstance(kind, type):
            return
        for thread in threading.enumerate():
            if isinstance(thread, kind):
                thread.exit()  # wakes it and joins it
    except BaseException:  # noqa: BLE001 - whatever student code did to these, the grader still counts threads
        pass


def safe_text(fn, limit=MAX_TEXT):
    try:
        text = fn()
    except BaseException:  # a hostile __str__ must not take the worker down
        return "<unprintable>"
    if not isinstance(text, str):
        return "<unprintable>"
    return text if len(text) <= limit else text[:limit] + " ...[cut]"


class Worker:
    def __init__(self, submission):
        self.submission = os.path.realpath(submission)
        self.objects = {}
        self.next_id = 1

    def register(self, obj):
        handle_id = self.next_id
        self.next_id += 1
        self.objects[handle_id] = obj
        return Handle(handle_id, safe_text(lambda: type(obj).__name__, 100))

    def resolve(self, handle_id, _type_name):
        if handle_id not in self.objects:
            raise LookupError(f"no object {handle_id} in the sandbox")
        return self.objects[handle_id]

    def target(self, spec):
        if isinstance(spec, dict) and "module" in spec:
            module = importlib.import_module(spec["module"])
            return getattr(module, spec["name"]) if spec.get("name") else module
        return decode(spec, [], self.resolve)

    @staticmethod
    def step(obj, key):
        if isinstance(obj, dict) or (isinstance(key, int) and isinstance(obj, (list, tuple))):
            return obj[key]
        return getattr(obj, key)

    def handle(self, message, buffers, earlier=None):
        op = message.get("op")
        if op == "ping":
            return {"pid": os.getpid(), "uid": getattr(os, "getuid", lambda: None)(), "python": sys.version.split()[0]}
        if op == "sequence":
            results = []
            for call in message.get("calls", []):
                results.append(self.handle(call, buffers, results))
            return [r if call.get("keep", True) else None for r, call in zip(results, message.get("calls", []))]
        if op == "doubles":
            journal, made = make_doubles(decode(message.get("value"), buffers, self.resolve))
            return [journal, made]
        obj = self.target(message.get("target"))
        if op == "call":
            args = decode(message.get("args", []), buffers, self.resolve, earlier)
            kwargs = decode(message.get("kwargs", {"$d": []}), buffers, self.resolve, earlier)
            fn = getattr(obj, message["method"]) if message.get("method") else obj
            result = fn(*args, **kwargs)
            # echo_args: also return the arguments as they are after the call (did it modify its inputs?)
            return {"result": result, "args": list(args)} if message.get("echo_args") else result
        path = message.get("path", [])
        if op == "get":
            for key in path:
                obj = self.step(obj, key)
            return obj
        if op == "set":
            for key in path[:-1]:
                obj = self.step(obj, key)
            value = decode(message.get("value"), buffers, self.resolve, earlier)
            if isinstance(obj, (dict, list)):
                obj[path[-1]] = value
            else:
                setattr(obj, path[-1], value)
            return None
        raise ValueError(f"unknown op {op!r}")

    def error(self, exc):
        tb = exc.__traceback__
        frames = [f for f in traceback.extract_tb(tb) if os.path.realpath(f.filename).startswith(self.submission)]
        lines = traceback.format_list(frames) if frames else []
        detail = ""
        if isinstance(exc, SyntaxError):
            detail = f"{os.path.basename(exc.filename or '')}, line {exc.lineno}: {exc.text or ''}".strip()
        return {"type": safe_text(lambda: type(exc).__name__, 100),
                "message": safe_text(lambda: str(exc)),
                "traceback": safe_text(lambda: "".join(lines)),
                "detail": safe_text(lambda: detail)}

    def serve(self, request_fd, response_fd):
        while True:
            try:
                message, buffers = read_frame(request_fd)
            except EOFError:
                return
            except (OSError, ProtocolError, ValueError):
                os._exit(PROTOCOL_LOST)  # quietly: a traceback here would only show the grader's paths
            request_id = message.get("id") if isinstance(message, dict) else None
            try:
                tree, out = encode(self.handle(message, buffers), self.register)
                parts = frame_parts({"id": request_id, "ok": tree}, out)
                sizes = len(parts[0]), sum(len(b) for b in out)
                if sizes[0] > MAX_JSON + 8 or sizes[1] > MAX_PAYLOAD:
                    raise ValueError(f"the value returned is too large to send to the grader ({sizes[0]} bytes of "
                                     f"structure, {sizes[1]} bytes of arrays; the limits are {MAX_JSON} and "
                                     f"{MAX_PAYLOAD})")
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code included
                parts = frame_parts({"id": request_id, "error": self.error(exc)}, [])
            del message, buffers
            stop_library_threads()
            try:
                for part in parts:
                    view = memoryview(part).cast("B")
                    while view:
                        view = view[os.write(response_fd, view):]
            except OSError:
                os._exit(PROTOCOL_LOST)
            del parts


def main():
    if sys.argv[1] == "stdio":  # no fd passing (Windows): protocol on stdin/stdout, prints go to stderr
        request_fd, response_fd = os.dup(0), os.dup(1)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(2, 1)
    else:
        request_fd, response_fd = int(sys.argv[1]), int(sys.argv[2])
        for fd in (request_fd, response_fd):  # programs student code execs do not inherit them
            os.set_inheritable(fd, False)
    submission, limits = sys.argv[3], json.loads(sys.argv[4])
    apply_limits(limits)
    os.chdir(submission)
    sys.path.insert(0, submission)
    sys.argv = [sys.argv[0]]
    import numpy  # noqa: F401  (imported before student code so that a broken import is ours to report)
    Worker(submission).serve(request_fd, response_fd)


if __name__ == "__main__":
    main()
