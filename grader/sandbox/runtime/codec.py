"""Wire format between the trusted grader and the sandboxed worker.

A frame is ``<json length:u32><buffer count:u32><json>`` followed by each buffer
as ``<length:u64><bytes>``. The JSON holds a tree of plain values; NumPy arrays
travel as raw buffers with their dtype and shape. Decoding never unpickles or
evaluates anything: dtypes are checked against a list of plain numeric kinds,
every size is checked before anything is allocated, the JSON's nesting is
measured without recursion before it is parsed, and the value tree has a depth
and node cap. Every failure is a ``ProtocolError``. This file must import
nothing but the standard library and NumPy: it is also loaded inside the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import struct

import numpy as np

MAX_JSON = 1 << 20          # 1 MiB of structure (an honest reply uses under 32 KiB: arrays travel as buffers)
MAX_BUFFERS = 10_000
MAX_PAYLOAD = 64 << 20      # 64 MiB of array data in one frame (an honest reply uses a few KiB)
MAX_DEPTH = 32              # nesting of values
MAX_JSON_DEPTH = 4 * MAX_DEPTH + 8  # a value level is at most 3 JSON levels ({"$d": [[k, v]]}), plus the envelope
MAX_NODES = 1_000_000
ALLOWED_KINDS = "biufc"     # bool, int, uint, float, complex: no object, string or void dtypes
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_HEADER = struct.Struct("<II")
_LENGTH = struct.Struct("<Q")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame."""


class FrameTooLarge(ProtocolError):
    """A frame announced more bytes than the reader accepts."""


class Handle:
    """A reference to an object that lives in the worker (it never crosses the pipe)."""

    __slots__ = ("id", "type_name")

    def __init__(self, id: int, type_name: str) -> None:
        self.id = id
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object in the sandbox>"


class Earlier:
    """In a sequence of calls, the result of call ``index`` of the same sequence (it stays in the worker)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _dtype(text: object) -> np.dtype:
    if not isinstance(text, str) or len(text) > 8:
        raise ProtocolError(f"bad dtype {text!r}")
    try:
        dtype = np.dtype(text)
    except TypeError as exc:
        raise ProtocolError(f"bad dtype {text!r}") from exc
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"dtype {text!r} is not a plain numeric type")
    return dtype


def _raw(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, without a copy."""
    return memoryview(array.reshape(-1).view(np.uint8))


def encode(value: object, register=None) -> tuple[object, list]:
    """Turn ``value`` into (JSON tree, buffers). ``register(obj) -> Handle`` keeps what cannot be sent.

    Buffers are bytes-like views of the arrays (no copy of contiguous arrays).
    """
    buffers: list = []

    def enc(v: object, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and type(v) in (int, bool):
            return v
        if type(v) is float:
            return v
        if isinstance(v, Handle):
            return {"$h": v.id, "type": v.type_name}
        if isinstance(v, Earlier):
            return {"$r": v.index}
        if isinstance(v, np.ndarray) and v.dtype.kind in ALLOWED_KINDS and v.dtype.fields is None:
            array = np.ascontiguousarray(v.view(np.ndarray))
            buffers.append(_raw(array))
            return {"$a": len(buffers) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
        if isinstance(v, np.generic) and v.dtype.kind in ALLOWED_KINDS:
            buffers.append(np.asarray(v).tobytes())
            return {"$a": len(buffers) - 1, "dtype": v.dtype.str, "shape": [], "scalar": True}
        if type(v) in (list, tuple):
            items = [enc(item, depth + 1) for item in v]
            return items if type(v) is list else {"$t": items}
        if isinstance(v, dict) and all(type(k) is str for k in v):
            return {"$d": [[k, enc(item, depth + 1)] for k, item in v.items()]}
        if register is None:
            raise ProtocolError(f"cannot send a {type(v).__name__}")
        return enc(register(v), depth + 1)

    try:
        return enc(value, 0), buffers
    finally:
        enc = None  # noqa: F841 - the recursive closure is a reference cycle that would keep the buffers alive


def decode(tree: object, buffers: list, resolve=None, earlier: list | None = None) -> object:
    """Inverse of ``encode``; ``resolve(id, type_name)`` turns handle references into objects and
    ``earlier`` (worker side, in a sequence) holds the results that ``{"$r": i}`` refers to.

    Arrays are views of the received buffers (no copy); each buffer backs at most one array, so two
    decoded arrays never share memory.
    """
    count = [0]
    used: set[int] = set()

    def array(v: dict) -> object:
        index, shape = v["$a"], v.get("shape")
        dtype = _dtype(v.get("dtype"))
        if type(index) is not int or not 0 <= index < len(buffers):
            raise ProtocolError("array refers to a missing buffer")
        if index in used:
            raise ProtocolError("two arrays refer to the same buffer")
        used.add(index)
        if not isinstance(shape, list) or len(shape) > 32 or not all(type(n) is int and 0 <= n < 1 << 62
                                                                     for n in shape):
            raise ProtocolError(f"bad array shape {str(shape)[:100]}")
        size = 1
        for n in shape:
            size *= n
        raw = buffers[index]
        if size * dtype.itemsize != len(raw):
            raise ProtocolError(f"array of shape {shape} and dtype {dtype} does not match {len(raw)} bytes")
        try:
            out = np.frombuffer(raw, dtype=dtype).reshape(shape)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ProtocolError(f"bad array: {exc}") from None
        return out[()] if v.get("scalar") else out

    def dec(v: object, depth: int) -> object:
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_NODES:
            raise ProtocolError("value too deep or too large")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [dec(item, depth + 1) for item in v]
        if not isinstance(v, dict):
            raise ProtocolError(f"unexpected {type(v).__name__} in a frame")
        if "$a" in v:
            return array(v)
        if "$t" in v and isinstance(v["$t"], list):
            return tuple(dec(item, depth + 1) for item in v["$t"])
        if "$d" in v and isinstance(v["$d"], list):
            out = {}
            for pair in v["$d"]:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise ProtocolError("bad dict entry")
                out[pair[0]] = dec(pair[1], depth + 1)
            return out
        if "$r" in v and type(v["$r"]) is int and earlier is not None and 0 <= v["$r"] < len(earlier):
            return earlier[v["$r"]]
        if "$h" in v and type(v["$h"]) is int:
            type_name = str(v.get("type", "object"))[:100]
            return resolve(v["$h"], type_name) if resolve else Handle(v["$h"], type_name)
        raise ProtocolError("unknown value in a frame")

    try:
        return dec(tree, 0)
    finally:
        # ``dec`` refers to itself through its closure: a reference cycle that would keep every received
        # buffer alive until the cyclic garbage collector happens to run. Break it now.
        dec = array = None  # noqa: F841


def json_depth(text: bytes) -> int:
    """How deeply ``text`` nests arrays and objects, measured without recursion (strings blanked first).

    Exact for valid JSON; for invalid JSON never below what a parser would reach before failing.
    """
    stripped = _STRING.sub(b'""', text)
    codes = np.frombuffer(stripped, dtype=np.uint8)
    if codes.size == 0:
        return 0
    steps = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int32) - ((codes == 0x5D) | (codes == 0x7D))
    return int(np.cumsum(steps).max(initial=0))


def parse_json(text: bytes) -> object:
    """``json.loads`` for untrusted text: nesting bounded first, so no recursion limit can be reached."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ProtocolError(f"frame nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame is not JSON: {str(exc)[:200]}") from None


def _fill_blocking(fd: int, view: memoryview) -> None:
    got = 0
    while got < len(view):
        n = os.readv(fd, [view[got:]])
        if not n:
            raise EOFError("the other side closed the pipe")
        got += n


def _write_blocking(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def frame_parts(message: dict, buffers: list) -> list:
    """The byte strings of one frame, in order (buffers are not copied)."""
    body = json.dumps(message, allow_nan=True, separators=(",", ":")).encode()
    parts = [_HEADER.pack(len(body), len(buffers)) + body]
    for buffer in buffers:
        parts.append(_LENGTH.pack(len(buffer)))
        parts.append(buffer)
    return parts


def write_frame(fd: int, message: dict, buffers: list, write=_write_blocking) -> None:
    """Send one frame; ``write(fd, data)`` must write all of ``data`` (it may enforce a deadline)."""
    for part in frame_parts(message, buffers):
        if len(part):
            write(fd, part)


def read_frame(fd: int, fill=_fill_blocking, max_payload: int = MAX_PAYLOAD,
               max_json: int = MAX_JSON) -> tuple[object, list[bytearray]]:
    """Read one frame, every length checked before allocation; ``fill(fd, view)`` fills ``view`` completely
    or raises (EOFError, TimeoutError...), and may enforce a deadline.

    At most ``max_json`` bytes of JSON and ``max_payload`` bytes of buffers are accepted (FrameTooLarge).
    Buffers are bytearrays, so decoded arrays are writable views of them.
    """
    header = bytearray(_HEADER.size)
    fill(fd, memoryview(header))
    json_len, n_buffers = _HEADER.unpack(header)
    if json_len > min(max_json, MAX_JSON) or n_buffers > MAX_BUFFERS:
        raise FrameTooLarge(f"frame too large ({json_len} bytes of JSON, {n_buffers} buffers)")
    body = bytearray(json_len)
    fill(fd, memoryview(body))
    message = parse_json(bytes(body))
    del body
    buffers, total = [], 0
    length = bytearray(_LENGTH.size)
    for _ in range(n_buffers):
        fill(fd, memoryview(length))
        (size,) = _LENGTH.unpack(length)
        total += size
        if total > min(max_payload, MAX_PAYLOAD):
            raise FrameTooLarge(f"frame carries more than {min(max_payload, MAX_PAYLOAD)} bytes of arrays")
        buffer = bytearray(size)
        if size:
            fill(fd, memoryview(buffer))
        buffers.append(buffer)
    return message, buffers
