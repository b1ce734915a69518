"""Wire format between the trusted grader and the sandboxed worker.

A frame is ``<json length:u32><buffer count:u32><json>`` followed by each buffer
as ``<length:u64><bytes>``. The JSON holds a tree of plain values; NumPy arrays
travel as raw buffers with their dtype and shape. Decoding never unpickles or
evaluates anything: dtypes are checked against a list of plain numeric kinds and
every size is checked before it is read. This file must import nothing but the
standard library and NumPy: it is also loaded inside the sandbox.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

MAX_JSON = 8 << 20          # 8 MiB of structure
MAX_BUFFERS = 10_000
MAX_PAYLOAD = 256 << 20     # 256 MiB of array data in one frame
MAX_DEPTH = 32
ALLOWED_KINDS = "biufc"     # bool, int, uint, float, complex: no object, string or void dtypes


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame."""


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


def encode(value: object, register=None) -> tuple[object, list[bytes]]:
    """Turn ``value`` into (JSON tree, buffers). ``register(obj) -> Handle`` keeps what cannot be sent."""
    buffers: list[bytes] = []

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
            buffers.append(array.tobytes())
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

    return enc(value, 0), buffers


def decode(tree: object, buffers: list[bytes], resolve=None, earlier: list | None = None) -> object:
    """Inverse of ``encode``; ``resolve(id, type_name)`` turns handle references into objects and
    ``earlier`` (worker side, in a sequence) holds the results that ``{"$r": i}`` refers to."""
    count = [0]

    def dec(v: object, depth: int) -> object:
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > 1_000_000:
            raise ProtocolError("value too deep or too large")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [dec(item, depth + 1) for item in v]
        if not isinstance(v, dict):
            raise ProtocolError(f"unexpected {type(v).__name__} in a frame")
        if "$a" in v:
            index, shape = v["$a"], v.get("shape")
            dtype = _dtype(v.get("dtype"))
            if type(index) is not int or not 0 <= index < len(buffers):
                raise ProtocolError("array refers to a missing buffer")
            if not isinstance(shape, list) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
                raise ProtocolError(f"bad array shape {shape!r}")
            size = 1
            for n in shape:
                size *= n
            raw = buffers[index]
            if size * dtype.itemsize != len(raw):
                raise ProtocolError(f"array of shape {shape} and dtype {dtype} does not match {len(raw)} bytes")
            array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
            return array[()] if v.get("scalar") else array
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

    return dec(tree, 0)


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, message: dict, buffers: list[bytes]) -> None:
    body = json.dumps(message, allow_nan=True, separators=(",", ":")).encode()
    parts = [struct.pack("<II", len(body), len(buffers)), body]
    for buffer in buffers:
        parts.append(struct.pack("<Q", len(buffer)))
        parts.append(buffer)
    data = b"".join(parts)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_frame(fd: int, read=_read_exact) -> tuple[object, list[bytes]]:
    """Read one frame with every length checked before allocation; ``read(fd, n)`` may enforce a deadline."""
    json_len, n_buffers = struct.unpack("<II", read(fd, 8))
    if json_len > MAX_JSON or n_buffers > MAX_BUFFERS:
        raise ProtocolError(f"frame too large ({json_len} bytes of JSON, {n_buffers} buffers)")
    try:
        message = json.loads(read(fd, json_len))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from exc
    buffers, total = [], 0
    for _ in range(n_buffers):
        (length,) = struct.unpack("<Q", read(fd, 8))
        total += length
        if total > MAX_PAYLOAD:
            raise ProtocolError(f"frame carries more than {MAX_PAYLOAD} bytes of arrays")
        buffers.append(read(fd, length))
    return message, buffers
