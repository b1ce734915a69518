"""grader/atomic.py: a file is replaced whole or not at all, and no temporary file is left behind."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import atomic
from grader.results import write_atomic


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def test_write_text_bytes_and_json_replace_the_file(tmp_path):
    target = tmp_path / "deep" / "er" / "page.html"  # missing folders are made
    atomic.write_text(target, "old")
    atomic.write_text(target, "new")
    assert target.read_text() == "new"
    atomic.write_bytes(tmp_path / "blob", b"\x00\x01")
    assert (tmp_path / "blob").read_bytes() == b"\x00\x01"
    atomic.write_json(tmp_path / "r.json", {"score": 1.5})
    assert json.loads((tmp_path / "r.json").read_text()) == {"score": 1.5}
    assert _leftovers(target.parent) == [] and _leftovers(tmp_path) == []


def test_json_is_readable_by_all_and_text_follows_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic.write_json(tmp_path / "results.json", {})
        atomic.write_text(tmp_path / "page.html", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "page.html").stat().st_mode) == 0o600  # as a plain open under that umask


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "results.json"
    write_atomic(target, {"score": 1})
    with pytest.raises(ValueError):
        write_atomic(target, {"score": float("nan")})  # not JSON: refused mid-write
    assert json.loads(target.read_text()) == {"score": 1}
    with pytest.raises(RuntimeError), atomic.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer died")
    assert json.loads(target.read_text()) == {"score": 1}
    assert _leftovers(tmp_path) == []


def test_a_failed_rename_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_text("a non-empty folder cannot be replaced by a file")
    with pytest.raises(OSError):
        atomic.write_text(target, "x")
    assert _leftovers(tmp_path) == [] and (target / "inside").exists()


def test_a_zip_writer_writes_into_the_temporary_path(tmp_path):
    target = tmp_path / "PA3.zip"
    with atomic.replacing(target) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        assert not target.exists() and tmp.parent == tmp_path
        zf.writestr("model.py", "x = 1\n")
    with zipfile.ZipFile(target) as zf:
        assert zf.namelist() == ["model.py"]
    assert _leftovers(tmp_path) == []


@settings(max_examples=40, deadline=None)
@given(first=st.binary(max_size=200), second=st.binary(max_size=200), fail=st.booleans())
def test_the_file_is_always_one_whole_version(tmp_path_factory, first, second, fail):
    folder = tmp_path_factory.mktemp("atomic")
    target = folder / "f"
    atomic.write_bytes(target, first)
    try:
        with atomic.replacing(target) as tmp:
            tmp.write_bytes(second[: len(second) // 2])
            if fail:
                raise KeyboardInterrupt  # BaseException too
            tmp.write_bytes(second)
    except KeyboardInterrupt:
        pass
    assert target.read_bytes() == (first if fail else second)
    assert _leftovers(folder) == []
