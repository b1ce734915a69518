"""Grading a corpus of submissions: correct variants, stubs, mutants, hostile and malformed code."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

import pytest

from grader.grade import grade
from grader.options import GradeOptions
from grader.results import validate, write_results
from tests import corpus
from tests.helpers import processes_with

FULL = 104.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def run(path: Path, **kwargs):
    return grade(path, GradeOptions(notebook=False, **kwargs))


def failing(result, prefix: str = "1.1"):
    return [t for t in result.tests if t.number.startswith(prefix) and t.status == "failed"]


def by_number(result) -> dict:
    return {t.number: t for t in result.tests}


# ---- correct code in other styles ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(corpus.CORRECT))
def test_correct_variants_get_full_marks(workdir, name):
    result = run(corpus.build(workdir / name, corpus.CORRECT[name]))
    assert result.score == FULL, [(t.name, t.output) for t in result.tests if t.status == "failed"]


def test_crlf_line_endings_get_full_marks(workdir):
    result = run(corpus.build(workdir / "crlf", crlf=True))
    assert result.score == FULL


def test_zip_inside_a_folder_with_macos_junk_gets_full_marks(workdir):
    folder = corpus.build(workdir / "zipped")
    archive = corpus.zip_folder(folder, workdir / "PA3.zip", inside="PA3", junk=True)
    result = run(archive)
    assert result.score == FULL
    assert not any("refused" in note for note in result.notes)


def test_template_scores_zero_with_every_test_reported(workdir):
    from grader import TEMPLATE_DIR

    result = run(TEMPLATE_DIR)
    assert result.score == 0 and result.max_score == FULL
    assert len([t for t in result.tests if t.number.startswith("1.1")]) == 74
    assert len([t for t in result.tests if t.number.startswith("1.2")]) == 3
    relu = by_number(result)["1.1.1"]
    assert "NotImplementedError" in relu.output and "template's stub" in relu.output


# ---- one-line bugs lose points in the right member ----------------------------------------

@pytest.mark.parametrize("name", sorted(corpus.MUTANTS))
def test_mutant_loses_points_in_its_member(workdir, name):
    file, old, new, member = corpus.MUTANTS[name]
    result = run(corpus.build(workdir / name, {file: [(old, new)]}))
    assert result.score < FULL
    if member.startswith("NeuralNetworkModel"):
        assert failing(result) == [], "a model bug must not cost Section 1.1 points"
        test = next(t for t in result.tests if t.name.startswith(member))
        assert test.score < test.max_score, test.output
    else:
        lost = failing(result)
        assert lost, "the bug was not caught"
        assert all(t.name.startswith(member + ":") for t in lost), [t.name for t in lost]


def test_failure_output_shows_expected_actual_and_hint(workdir):
    file, old, new, _ = corpus.MUTANTS["fc_forward_no_bias"]
    result = run(corpus.build(workdir / "feedback", {file: [(old, new)]}))
    output = by_number(result)["1.1.37"].output
    assert "expected:" in output and "got:" in output and "largest" in output and "hint:" in output


def test_same_submission_graded_ten_times_gives_the_same_result(workdir):
    file, old, new, _ = corpus.MUTANTS["softmax_backward_diagonal_only"]
    folder = corpus.build(workdir / "repeat", {file: [(old, new)]})
    outcomes = {json.dumps([(t.number, t.score, t.output) for t in run(folder).tests]) for _ in range(10)}
    assert len(outcomes) == 1


def test_hidden_inputs_depend_on_the_submission(workdir):
    a = run(corpus.build(workdir / "seed_a"))
    b = run(corpus.build(workdir / "seed_b", extra={"notes.txt": "x"},
                         edits={"util.py": [('"""Data loading', '"""Changed: data loading')]}))
    assert a.seed != b.seed and a.score == b.score == FULL


# ---- hostile submissions ------------------------------------------------------------------

HOSTILE = {
    "sys_exit_on_import": {"activations.py": [("import numpy as np\n",
                                               "import numpy as np\nimport sys\nsys.exit(0)\n")]},
    "os_exit_in_relu": {"activations.py": [("return np.maximum(Z, 0.0)", "import os; os._exit(3)")]},
    "infinite_loop_in_softmax": {"activations.py": [("exps = np.exp(Z - Z.max(axis=1, keepdims=True))",
                                                     "while True:\n            pass")]},
    "memory_bomb": {"activations.py": [("return dY * (Z > 0)",
                                        "hog = [bytearray(10**8) for _ in range(10**4)]\n"
                                        "        return dY * (Z > 0)")]},
    "monkeypatched_numpy": {"activations.py": [
        ("import numpy as np\n", "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                                 "np.array_equal = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
                                 "np.testing.assert_allclose = lambda *a, **k: None\n"),
        ("return np.maximum(Z, 0.0)", "return np.zeros_like(Z)")]},
    "always_equal_objects": {"activations.py": [
        ("class Activation(ABC):", "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
                                   "    __array_priority__ = 1000\n    shape = property(lambda self: (2, 4))\n\n\n"
                                   "class Liar(np.ndarray):\n    def __eq__(self, other):\n        return True\n\n\n"
                                   "class Activation(ABC):"),
        ("return np.maximum(Z, 0.0)", "return AlwaysEqual()"),
        ("return dY * (Z > 0)", "return np.zeros_like(dY).view(Liar)")]},
    "fork_bomb": {"activations.py": [("return np.maximum(Z, 0.0)",
                                      "import os\n        while True:\n            try:\n                os.fork()\n"
                                      "            except OSError:\n                pass")]},
    "fifty_megabytes_of_output": {"activations.py": [("return np.maximum(Z, 0.0)",
                                                      "print('x' * (50 << 20))\n        return np.maximum(Z, 0.0)")]},
    "fifty_megabytes_printed_once": {"activations.py": [("import numpy as np\n",
                                                         "import numpy as np\nprint('y' * (50 << 20))\n")]},
}


HONEST_BASELINE = {
    "monkeypatched_numpy": {"activations.py": [("return np.maximum(Z, 0.0)", "return np.zeros_like(Z)")]},
    "always_equal_objects": {"activations.py": [("return np.maximum(Z, 0.0)", "return None"),
                                                ("return dY * (Z > 0)", "return np.zeros_like(dY)")]},
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_cannot_raise_its_score_or_break_the_grader(workdir, name):
    result = run(corpus.build(workdir / name, HOSTILE[name]))
    numbers = by_number(result)
    assert len([t for t in result.tests if t.number.startswith(("1.1", "1.2"))]) == 77
    # The loss module does not import activations: its 15 points are still earned.
    loss = [t for t in result.tests if t.name.startswith("CrossEntropyLoss")]
    assert len(loss) == 15 and all(t.status == "passed" for t in loss), [t.output for t in loss if t.status == "failed"]
    if name == "fifty_megabytes_printed_once":
        assert result.score == FULL  # printing is allowed, it is just not kept
    elif name == "fifty_megabytes_of_output":  # never stopped for printing: only the time it takes counts
        assert all(t.status == "passed" for t in result.tests if t.number.startswith("1.1")), \
            [t.output for t in result.tests if t.number.startswith("1.1") and t.status == "failed"]
    else:
        assert result.score < FULL
    if name in HONEST_BASELINE:  # the same wrong answers, without the tricks, score at least as much
        baseline = run(corpus.build(workdir / f"{name}_baseline", HONEST_BASELINE[name]))
        assert result.score <= baseline.score < FULL
    if name == "os_exit_in_relu":
        assert "exited with code 3" in numbers["1.1.3"].output
    if name == "infinite_loop_in_softmax":
        assert "did not return within" in numbers["1.1.17"].output
        assert "not called again" in numbers["1.1.18"].output


def test_fake_results_files_and_printed_results_change_nothing(workdir, tmp_path):
    marker = f"pa3-fake-{uuid.uuid4().hex}"
    fake = json.dumps({"score": 999, "tests": []})
    targets = ["results.json", "../results.json", "../../results.json", "/autograder/results/results.json",
               f"/tmp/{marker}.json"]
    payload = (f"import json as _j\nfor _p in {targets!r}:\n    try:\n        import os as _o\n"
               f"        _o.makedirs(_o.path.dirname(_p) or '.', exist_ok=True)\n"
               f"        open(_p, 'w').write({fake!r})\n    except OSError:\n        pass\n"
               f"print({fake!r})\n")
    folder = corpus.build(workdir / "fake_results", {"activations.py": [("import numpy as np\n",
                                                                         "import numpy as np\n" + payload)]})
    results_path = tmp_path / "out" / "results.json"
    result = run(folder)
    document = write_results(results_path, result)
    assert json.loads(results_path.read_text()) == document
    assert document["score"] == FULL  # the submission is otherwise correct: it gets what it earned, not 999
    assert not Path(f"/tmp/{marker}.json").exists()  # under bwrap its /tmp is private
    assert (not Path("/autograder/results/results.json").exists()
            or "999" not in Path("/autograder/results/results.json").read_text())


def test_orphaned_children_are_killed(workdir):
    marker = f"pa3orphan{uuid.uuid4().hex[:10]}"
    spawn = (f"import os, subprocess, sys\n"
             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
             f"'{marker}'], start_new_session=True)\n"
             f"if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
             f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\n"
             f"    os._exit(0)\n")
    folder = corpus.build(workdir / "orphans", {"loss.py": [("import numpy as np\n", "import numpy as np\n" + spawn)]})
    result = run(folder)
    # What it left running could write into the grader's pipes at any later moment: the call that imported it
    # fails, with its worker, at once. Only the members whose module imports loss.py pay: the loss and the model.
    failed = [t for t in result.tests if t.status == "failed"]
    assert failed and all(t.name.startswith(("CrossEntropyLoss", "NeuralNetworkModel")) for t in failed), \
        [t.name for t in failed]
    assert all("running after it returned" in t.output for t in failed), [t.output for t in failed]
    assert all(t.status == "passed" for t in result.tests if t.name.startswith(("ReLU", "SoftMax", "FullyConnected")))
    assert processes_with(marker) == []


# ---- malformed submissions ----------------------------------------------------------------

def test_missing_file_fails_only_the_tests_that_need_it(workdir):
    result = run(corpus.build(workdir / "missing", drop=("loss.py",)))
    loss = [t for t in result.tests if t.name.startswith("CrossEntropyLoss")]
    assert all(t.status == "failed" and "loss.py is missing" in t.output for t in loss)
    relu = [t for t in result.tests if t.name.startswith("ReLU")]
    assert all(t.status == "passed" for t in relu)
    assert "loss.py is missing from the submission" in result.notes


@pytest.mark.parametrize("wrong,right", [("layer.py", "layers.py"), ("Activations.py", "activations.py")])
def test_misnamed_file_gets_a_rename_suggestion(workdir, wrong, right):
    result = run(corpus.build(workdir / f"misnamed_{wrong}", rename={right: wrong}))
    message = f"{right} is missing; found {wrong}: rename it to {right}"
    assert message in result.notes
    assert any(message in t.output for t in result.tests if t.status == "failed")
    assert all(t.status == "passed" for t in result.tests if t.name.startswith("CrossEntropyLoss"))


def test_syntax_error_is_reported_with_its_line(workdir):
    result = run(corpus.build(workdir / "syntax", {"loss.py": [("        m = Y.shape[0]\n        return -np.sum",
                                                                 "        m = Y.shape[0\n        return -np.sum")]}))
    loss_test = next(t for t in result.tests if t.name.startswith("CrossEntropyLoss.forward"))
    assert "loss.py does not compile" in loss_test.output and "line" in loss_test.output
    assert all(t.status == "passed" for t in result.tests if t.name.startswith(("ReLU", "SoftMax", "FullyConnected")))


def test_broken_zip_fails_every_test_with_a_clear_message(workdir, tmp_path):
    archive = workdir / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip file")
    result = run(archive)
    assert result.score == 0 and result.max_score == FULL
    assert all("not a readable zip file" in t.output for t in result.tests if t.number.startswith("1.1."))
    validate(write_results(tmp_path / "results.json", result))


def test_unsafe_zip_entries_are_refused_and_the_rest_graded(workdir, tmp_path):
    folder = corpus.build(workdir / "unsafe_src")
    archive = corpus.zip_folder(folder, workdir / "unsafe.zip")
    escape = tmp_path / "escaped.py"
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../" * 12 + str(escape).lstrip("/"), "pwned = True\n")
        zf.writestr(str(tmp_path / "absolute.py"), "pwned = True\n")
        link = zipfile.ZipInfo("link.py")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("bomb.bin", b"\0" * (20 << 20))
    result = run(archive)
    assert result.score == FULL
    refused = [n for n in result.notes if n.startswith("refused")]
    assert len(refused) == 3, result.notes  # entries refused for the same reason share one note
    assert any(n.startswith("refused 2 entries (the path leaves the submission folder)") for n in refused)
    assert any("symbolic links" in n for n in refused)
    assert any("zip bomb" in n for n in refused)
    assert not escape.exists() and not (tmp_path / "absolute.py").exists()


def test_nothing_is_left_in_the_temporary_folder(workdir):
    import tempfile

    before = {p.name for p in Path(tempfile.gettempdir()).glob("pa3-grade-*")}
    run(corpus.build(workdir / "cleanup"))
    after = {p.name for p in Path(tempfile.gettempdir()).glob("pa3-grade-*")}
    assert after - before == set()  # (a killed grader's workspace found there may even be gone: reclaimed)


# ---- real-world variants: one mistake costs one member, and its message names the cause -----------------------

def member_points(result) -> dict[str, tuple[float, float]]:
    from grader.members import member_of

    points: dict[str, list[float]] = {}
    for test in result.tests:
        if test.number.startswith(("1.1", "1.2")):
            earned = points.setdefault(member_of(test.name), [0.0, 0.0])
            earned[0] += test.score
            earned[1] += test.max_score
    return {member: (round(a, 4), b) for member, (a, b) in points.items()}


@pytest.mark.parametrize("name", sorted(corpus.REAL))
def test_real_world_variant_costs_exactly_its_members_points(workdir, name):
    edits, lost, says = corpus.REAL[name]
    result = run(corpus.build(workdir / f"real_{name}", edits))
    points = member_points(result)
    assert {m: full - earned for m, (earned, full) in points.items() if earned != full} == lost, \
        [(t.name, t.output) for t in result.tests if t.score < t.max_score]
    for member, text in says.items():
        outputs = "\n".join(t.output for t in result.tests if t.name.startswith(member + ":") and t.score < t.max_score)
        assert text in outputs, outputs
    shown = "\n".join(t.output for t in result.tests)
    assert "Remote" not in shown and "in the sandbox>" not in shown and "UnexpectedCall" not in shown


def test_pa3_check_shows_a_correct_model_done_beside_a_broken_layer(workdir):
    from grader.progress import progress

    edits, _, _ = corpus.REAL["model_correct_on_broken_layers"]
    states = {e.member: e.state for e in progress(run(corpus.build(workdir / "check_view", edits)))}
    assert states["FullyConnectedLayer.backward"] == "failing"
    assert all(states[f"NeuralNetworkModel.{m}"] == "done" for m in ("forward", "backward", "predict")), states
