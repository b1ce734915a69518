"""Hostile submissions against the grader's own bounds: the worker protocol, the trusted process's
memory, the sandbox's disk and shared memory, the time of Section 1, and output floods.

Each is graded by a separate `pa3 grade` process whose resident memory is sampled throughout, and
every test asserts the same five things:

- the grader exits by itself (status 0) within LIMIT seconds (the slowest here needs about 40 s);
- results.json is complete (all 77 tests of Sections 1.1 and 1.2, 104 points) and schema-valid;
- the score is no higher than that of an honest submission with the same correct members;
- no process and no file of the submission is left (found by the marker each one carries),
  nor its System V shared memory segment;
- the grader's peak RSS stays under RSS_BOUND above its idle figure (imports done, nothing graded).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader import PROJECT_ROOT
from grader.batch.task import grade_one, pack_submission
from grader.budget import BATCH_TIMEOUT, GRADESCOPE_TIMEOUT, deadline_within, effective_deadline
from grader.grade import grade
from grader.options import GradeOptions
from grader.results import validate
from grader.sandbox import isolation, memcg
from grader.sandbox.client import Sandbox
from grader.sandbox.limits import Limits
from tests import hostile

LIMIT = 240.0             # s: generous bound on one grading here (an honest one takes about 3 s)
RSS_BOUND = 300 << 20     # bytes above the grader's idle RSS
FULL = 104.0

needs_bwrap = pytest.mark.skipif(isolation.unavailable_reason("bwrap") is not None, reason="bwrap unavailable")


@pytest.fixture(scope="module")
def idle() -> int:
    return hostile.idle_rss()


@pytest.fixture(scope="module")
def honest_scores(tmp_path_factory):
    """Score of the honest counterpart of each hostile submission (graded once per module)."""
    cache: dict[tuple[str, str], float] = {}
    root = tmp_path_factory.mktemp("honest")

    def score(kind: str, name: str) -> float:
        key = (kind, name if kind in ("protocol", "memory") else "")
        if key not in cache:
            cache[key] = grade(hostile.honest(root / f"{kind}-{name}", kind, name), GradeOptions(notebook=False)).score
        return cache[key]

    return score


def graded(tmp_path: Path, idle: int, kind: str, name: str, *flags: str) -> dict:
    """Grade hostile ``kind``/``name`` in a watched `pa3 grade`; assert the bounds every test shares."""
    mark = hostile.marker()
    submission = hostile.build(tmp_path / "submission", kind, name, mark)
    watched = hostile.grade_watched(submission, tmp_path / "out" / "results.json", *flags, limit=LIMIT)
    assert watched.returncode == 0, f"the grader did not exit by itself within {LIMIT:g} s: {watched.stderr}"
    document = watched.document
    assert document is not None, "no results.json"
    validate(document)
    numbered = [t for t in document["tests"] if t.get("number", "").startswith(("1.1.", "1.2."))]
    assert len(numbered) == 77 and document.get("max_score", sum(t["max_score"] for t in numbered)) >= FULL - 1e-9
    assert watched.peak_rss - idle < RSS_BOUND, (f"grader RSS peaked at {watched.peak_rss >> 20} MB "
                                                 f"(idle {idle >> 20} MB)")
    assert hostile.leftover_processes(mark) == []
    assert watched.left_in_tmp == [], "the grader left its temporary files behind"
    assert hostile.leftover_files(mark) == []
    assert not hostile.leftover_shm(mark)
    for test in document["tests"]:  # student-facing: never the grader's own traceback or paths
        assert "grader error" not in test["output"] and str(PROJECT_ROOT) not in test["output"], test["output"]
    return document


def outputs(document: dict) -> str:
    return "\n".join(t["output"] for t in document["tests"])


# ---- item 3: the worker protocol ---------------------------------------------------------------------

# What the attacking member's tests say, by attack: the class of what happened, not one wording. A writer
# left running is caught at once, still running; on a slow enough machine it may have written first, and
# then its bytes are what is caught, still after the call that started it and charged to that call.
# Where the worker's task limit is already used up when the attack starts (not root: RLIMIT_NPROC counts every
# process of the user), its thread or child never starts, and the student is told that instead.
LEFT_RUNNING = "running after it returned"
CORRUPTED = ("corrupted", "more data than", "out of turn")
NO_THREAD, NO_FORK = "can't start new thread", "Resource temporarily unavailable"
PROTOCOL_MESSAGES = {
    "forged_reply": ("out of turn",), "deeply_nested_frame": ("nests deeper",),
    "oversized_frame_header": ("more data than",), "claims_gigabyte_buffer": ("more data than",),
    "malformed_json": ("not JSON",), "closes_protocol_pipes": ("lost its connection",),
    "steals_requests": (LEFT_RUNNING, NO_THREAD), "exhausts_tasks": (LEFT_RUNNING, NO_THREAD),
    "garbage_between_calls": (LEFT_RUNNING, *CORRUPTED, NO_THREAD),
    "garbage_from_forked_child": (LEFT_RUNNING, *CORRUPTED, NO_FORK),
}
# Every attack is in ReLU.forward: only the members that call it may lose points.
REACHES_RELU_FORWARD = ("ReLU.forward", "FullyConnectedLayer.forward", "NeuralNetworkModel.")


def assert_only_the_attacker_pays(document: dict, name: str) -> None:
    failed = [t for t in document["tests"] if t["status"] == "failed"]
    assert failed and all(t["name"].startswith(REACHES_RELU_FORWARD) for t in failed), \
        [t["name"] for t in failed if not t["name"].startswith(REACHES_RELU_FORWARD)]
    first = next(t for t in document["tests"] if t["name"].startswith("ReLU.forward"))
    assert first["status"] == "failed" and any(text in first["output"] for text in PROTOCOL_MESSAGES[name]), \
        first["output"]
    loss = [t for t in document["tests"] if t["name"].startswith("CrossEntropyLoss")]
    assert loss and all(t["status"] == "passed" for t in loss), "the loss module does not use ReLU: its points stay"


@pytest.mark.parametrize("name", sorted(hostile.PROTOCOL))
def test_protocol_attacks_fail_only_the_attacking_member(tmp_path, idle, honest_scores, name):
    document = graded(tmp_path, idle, "protocol", name)
    assert document["score"] <= honest_scores("protocol", name)
    assert_only_the_attacker_pays(document, name)


@pytest.mark.parametrize("level", ["user", "process"])
@pytest.mark.parametrize("name", ["forged_reply", "deeply_nested_frame", "closes_protocol_pipes",
                                  "garbage_between_calls", "garbage_from_forked_child"])
def test_protocol_attacks_at_the_other_levels(tmp_path, idle, honest_scores, level, name):
    if isolation.unavailable_reason(level):
        pytest.skip(isolation.unavailable_reason(level))
    document = graded(tmp_path, idle, "protocol", name, "--isolation", level)
    assert document["score"] <= honest_scores("protocol", name)
    assert_only_the_attacker_pays(document, name)


# ---- item 4: the trusted process's memory ------------------------------------------------------------

@pytest.mark.parametrize("name,level", [("gigabyte_returns", "auto"), ("near_frame_cap_returns", "auto"),
                                        ("near_frame_cap_returns", "process")])
def test_huge_replies_keep_the_grader_small(tmp_path, idle, honest_scores, name, level):
    document = graded(tmp_path, idle, "memory", name, "--isolation", level)
    assert document["score"] <= honest_scores("memory", name)


# ---- item 5: disk and shared memory ------------------------------------------------------------------

@pytest.mark.parametrize("name,level", [("fill", "auto"), ("fill", "user"), ("fill_private", "process")])
def test_filling_the_disk_is_bounded_and_leaves_nothing(tmp_path, idle, name, level):
    if level != "auto" and isolation.unavailable_reason(level):
        pytest.skip(isolation.unavailable_reason(level))
    document = graded(tmp_path, idle, "disk", name, "--isolation", level)
    assert document["score"] <= FULL
    if level in ("user", "process"):  # outside bwrap the budget is enforced by the grader itself
        assert f"at most {Limits().work_bytes >> 20} MB" in outputs(document)


@needs_bwrap
def test_bwrap_tmpfs_mounts_are_sized_and_private(tmp_path):
    tmp_path.chmod(0o711)
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "writer.py").write_text(
        "import os\n"
        "def fill(place):\n"
        "    block, total = b'z' * (1 << 20), 0\n"
        "    try:\n"
        "        with open(os.path.join(place, 'big.bin'), 'wb') as f:\n"
        "            for _ in range(512):\n"
        "                f.write(block); f.flush(); total += len(block)\n"
        "    except OSError:\n"
        "        pass\n"
        "    return total\n")
    limits = Limits(tmp_bytes=8 << 20, shm_bytes=4 << 20, work_bytes=6 << 20, file_size=1 << 30)
    with Sandbox(folder, "bwrap", limits, call_timeout=30) as sb:
        written = {place: sb.new("writer", "fill", place) for place in ("/tmp", "/dev/shm", ".")}
    assert written["/tmp"] <= 8 << 20 and written["/dev/shm"] <= 4 << 20 and written["."] <= 6 << 20, written
    assert sorted(os.listdir(folder)) == ["writer.py"]  # nothing reached the host's copy


@pytest.mark.skipif(not memcg.available(), reason="no memory cgroup can be made here")
def test_each_worker_gets_a_memory_cgroup_charging_tmpfs_too(tmp_path):
    tmp_path.chmod(0o711)
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "where.py").write_text("def cgroup():\n    return open('/proc/self/cgroup').read()\n")
    limits = Limits()
    with Sandbox(folder, "process", limits) as sb:
        lines = sb.new("where", "cgroup").splitlines()
        path = next(line.split(":", 2)[2] for line in lines if line.split(":")[1] in ("memory", ""))
        assert memcg.PREFIX in path
        limit_file = next(p for p in (memcg.V1_ROOT / path.lstrip("/") / "memory.limit_in_bytes",
                                      memcg.V2_ROOT / path.lstrip("/") / "memory.max") if p.exists())
        assert int(limit_file.read_text()) == limits.memory_bytes
    assert not limit_file.parent.exists()  # removed with the worker


# ---- item 6: time ------------------------------------------------------------------------------------

def test_many_slow_calls_are_stopped_by_the_section_budget(tmp_path, idle):
    budget = 20
    start = time.monotonic()
    document = graded(tmp_path, idle, "time", "sleepy", "--section1-budget", str(budget))
    assert time.monotonic() - start < budget + 60
    assert document["score"] < FULL
    assert f"time budget of Sections 1.1 and 1.2 ({budget} s in all) was used up" in outputs(document)


def test_deadlines_are_derived_from_the_outer_limits():
    for outer in (60.0, GRADESCOPE_TIMEOUT, BATCH_TIMEOUT):
        assert 0 < deadline_within(outer) <= outer - 30
    assert deadline_within(GRADESCOPE_TIMEOUT) == 540
    assert effective_deadline(None, 600) == 540 and effective_deadline(9999, 600) == 540
    assert effective_deadline(100, 600) == 100


def test_batch_results_are_written_before_its_timeout(tmp_path):
    """A submission whose calls add up past `pa3 batch --timeout` is stopped by the grader's own deadline:
    its results are written (a timeout for the TA, with the tests cut short named), never a lost row."""
    submission = hostile.build(tmp_path / "sleepy", "time", "sleepy", hostile.marker())
    outcome = grade_one(pack_submission(submission), GradeOptions(notebook=False), timeout=60)
    assert outcome["status"] == "timeout", outcome["message"]
    assert "results were written" in outcome["message"]
    assert outcome["seconds"] < 60
    validate(outcome["gradescope"])
    assert "the grading deadline was reached" in "\n".join(t["output"] for t in outcome["gradescope"]["tests"])


# ---- item 7: output floods ---------------------------------------------------------------------------

def test_a_correct_member_printing_200_megabytes_keeps_its_points(tmp_path, idle):
    document = graded(tmp_path, idle, "output", "loud")
    assert document["score"] == FULL, [t["output"] for t in document["tests"] if t["status"] == "failed"]


def test_output_past_the_cap_is_drained_not_kept(tmp_path):
    tmp_path.chmod(0o711)
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "loud.py").write_text("import sys\ndef go(n):\n    sys.stdout.write('x' * n)\n    sys.stdout.flush()\n"
                                    "    return n\n")
    limits = Limits()
    with Sandbox(folder, "auto", limits, call_timeout=60) as sb:
        for _ in range(3):
            assert sb.new("loud", "go", 100 << 20) == 100 << 20
        drain = sb._drains[0]
        # The call returns once its output is in the pipe: the drain thread may still be reading the last of it.
        settle_at = time.monotonic() + 30
        while drain.total < 300 << 20 and time.monotonic() < settle_at:
            time.sleep(0.01)
        assert drain.total == 300 << 20 and len(drain.kept) == limits.output_bytes
        assert sb.restarts == 0
