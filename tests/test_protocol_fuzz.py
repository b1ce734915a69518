"""Property-based fuzzing of the worker protocol: whatever bytes arrive, the frame reader and the
decoder end in the protocol's own error (or, for a stream that simply stops, end-of-file), never
in anything else: no RecursionError, MemoryError, ValueError or numpy error escapes."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.sandbox.runtime.codec import (
    MAX_BUFFERS,
    MAX_JSON,
    MAX_JSON_DEPTH,
    ProtocolError,
    decode,
    encode,
    frame_parts,
    json_depth,
    read_frame,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def feed(data: bytes):
    """read_frame over ``data`` held in memory; the reader's end-of-stream is EOFError, as on a pipe."""
    stream = io.BytesIO(data)

    def fill(_fd, view):
        chunk = stream.read(len(view))
        view[: len(chunk)] = chunk
        if len(chunk) < len(view):
            raise EOFError("stream ended")

    return stream, fill


def read_and_decode(data: bytes) -> None:
    """The trusted side's whole path for one frame; only the protocol's errors may come out."""
    stream, fill = feed(data)
    try:
        message, buffers = read_frame(None, fill)
        if isinstance(message, dict):
            decode(message.get("ok"), buffers)
        else:
            decode(message, buffers)
    except ProtocolError:
        pass
    except EOFError:
        assert stream.tell() == len(data), "end of file reported before the stream ended"


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                        st.text(max_size=20))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(["$a", "$t", "$d", "$h", "$r", "dtype", "shape", "scalar", "type", "x"]),
                        inner, max_size=5),
        st.fixed_dictionaries({"$a": st.integers(-2, 6),
                               "dtype": st.sampled_from(["<f8", "|b1", "<i4", "O", "<U3", "V8", "<c16", "f", 7]),
                               "shape": st.one_of(st.lists(st.integers(-3, 2**63), max_size=4), inner)}),
        st.fixed_dictionaries({"$t": st.lists(inner, max_size=4)}),
        st.fixed_dictionaries({"$d": st.lists(st.tuples(st.one_of(st.text(max_size=5), st.integers()), inner).map(list),
                                              max_size=4)}),
        st.fixed_dictionaries({"$h": st.integers(), "type": inner}),
    ),
    max_leaves=40,
)
buffers = st.lists(st.binary(max_size=64), max_size=6)


@SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    read_and_decode(data)


@SETTINGS
@given(json_values, buffers, st.data())
def test_well_formed_frames_with_random_trees_truncated_or_corrupted(tree, raw, data):
    frame = b"".join(bytes(p) for p in frame_parts({"id": 1, "ok": tree}, raw))
    read_and_decode(frame)
    cut = data.draw(st.integers(0, len(frame)))
    read_and_decode(frame[:cut])
    position = data.draw(st.integers(0, len(frame) - 1))
    read_and_decode(frame[:position] + bytes([data.draw(st.integers(0, 255))]) + frame[position + 1:])


@SETTINGS
@given(st.integers(0, 20_000), st.sampled_from(["[", '{"a":', '{"$d":[["k",', '{"$t":[']), st.booleans())
def test_deep_nesting_is_refused_without_recursion(depth, opener, closed):
    closer = {"[": "]", '{"a":': "}", '{"$d":[["k",': "]]}", '{"$t":[': "]}"}[opener]
    body = (opener * depth + "0" + (closer * depth if closed else "")).encode()
    frame = struct.pack("<II", len(body), 0) + body
    read_and_decode(frame)
    if closed and depth * (opener.count("[") + opener.count("{")) > MAX_JSON_DEPTH:
        stream, fill = feed(frame)
        try:
            read_frame(None, fill)
        except ProtocolError:
            pass
        else:
            raise AssertionError("nesting beyond the limit was accepted")


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.lists(st.integers(0, 2**64 - 1), max_size=4),
       st.binary(max_size=64))
def test_oversized_or_lying_lengths(json_len, n_buffers, lengths, tail):
    body = b'{"id":1,"ok":null}'
    data = (struct.pack("<II", json_len, n_buffers) + body[:json_len]
            + b"".join(struct.pack("<Q", n) for n in lengths) + tail)
    read_and_decode(data)
    if json_len > MAX_JSON or n_buffers > MAX_BUFFERS:
        stream, fill = feed(data)
        try:
            read_frame(None, fill)
        except ProtocolError:
            assert stream.tell() == 8, "a frame announced as too large must be refused before it is read"
        else:
            raise AssertionError("an oversized frame was accepted")


@SETTINGS
@given(json_values, buffers)
def test_decode_of_any_json_value(tree, raw):
    try:
        decode(json.loads(json.dumps(tree)), [bytearray(b) for b in raw])
    except ProtocolError:
        pass


@SETTINGS
@given(st.lists(st.sampled_from(["[", "]", "{", "}", '"', "\\", "a", ",", ":"]), max_size=300))
def test_json_depth_never_undercounts(chars):
    text = "".join(chars)
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return
    depth, deepest = 0, 0  # valid JSON: count brackets outside strings the slow way
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped, in_string = (not escaped and ch == "\\"), in_string and (escaped or ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    assert json_depth(text.encode()) == deepest


def test_round_trip_still_exact():
    value = {"w": np.arange(12.0).reshape(3, 4), "flags": np.array([True, False]), "n": [1, (2.5, None)]}
    tree, raw = encode(value)
    frame = b"".join(bytes(p) for p in frame_parts({"id": 3, "ok": tree}, raw))
    _, fill = feed(frame)
    message, received = read_frame(None, fill)
    back = decode(message["ok"], received)
    assert message["id"] == 3 and np.array_equal(back["w"], value["w"]) and back["n"] == [1, (2.5, None)]
    back["w"][0, 0] = 99.0  # decoded arrays are writable views of the received bytes, not copies
    assert received[0][:8] == np.float64(99.0).tobytes()
