"""The student bundle holds no solution; pa3 check and pa3 pack work from it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import REFERENCE_DIR, bundle
from grader.grade import grade
from grader.pack import pack
from test_specs.contract import REQUIRED_FILES, STUDENT_MEMBERS
from tests.corpus import build as build_submission
from tests.helpers import call_member, load_flat

REGION = re.compile(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", re.S)


@pytest.fixture(scope="module")
def student_bundle(tmp_path_factory) -> Path:
    return bundle.build(tmp_path_factory.mktemp("bundle") / "PA3-bundle")


def bundle_pa3(student_bundle: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the bundle's own `pa3` (its grader and specs, not the repo's)."""
    env = dict(os.environ, PYTHONPATH=str(student_bundle / "selfcheck"))
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def solution_lines() -> set[str]:
    """Distinctive lines of the reference's solution regions (ones that also occur in provided code are not)."""
    inside, outside = set(), set()
    for path in REFERENCE_DIR.glob("*.py"):
        text = path.read_text()
        regions = REGION.findall(text)
        inside |= {line.strip() for region in regions for line in region.splitlines()}
        outside |= {line.strip() for line in REGION.sub("", text).splitlines()}
    return {line for line in inside - outside if len(line) >= 20 and not line.startswith("#")}


def test_bundle_holds_no_solution(student_bundle):
    files = [p for p in student_bundle.rglob("*") if p.is_file()]
    names = {p.relative_to(student_bundle).as_posix() for p in files}
    assert not any("hidden" in n or "oracle" in n or n.endswith("formulas.py") for n in names), names
    assert not any(n.startswith("reference") or "/reference/" in n for n in names)
    lines = solution_lines()
    assert len(lines) >= 10  # the check has teeth
    for path in files:
        text = path.read_text(errors="replace")
        leaked = [line for line in lines if line in text]
        assert not leaked, f"{path}: {leaked}"
    work = load_flat(student_bundle / "PA3")
    for member in (m for members in STUDENT_MEMBERS.values() for m in members):
        with pytest.raises(NotImplementedError, match=member):
            call_member(work, member)


def test_bundle_zip_matches_the_folder(tmp_path):
    archive = bundle.build(tmp_path / "PA3-bundle", make_zip=True)
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert "PA3-bundle/PA3/activations.py" in names and "PA3-bundle/selfcheck/pyproject.toml" in names
    assert not any("hidden" in n or "oracle" in n for n in names)


def test_check_on_the_bundle_template_and_on_the_reference(student_bundle, tmp_path):
    probe = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(student_bundle / "selfcheck")))
    assert probe.stdout.startswith(str(student_bundle)), probe.stdout

    template = bundle_pa3(student_bundle, "check", cwd=student_bundle / "PA3")
    assert template.returncode == 1 and "Traceback" not in template.stderr
    assert "Visible tests: 0 / 96 points" in template.stdout

    work = tmp_path / "PA3"
    shutil.copytree(student_bundle / "PA3", work)
    for module in ("activations", "layers", "loss", "model", "util"):
        shutil.copyfile(REFERENCE_DIR / f"{module}.py", work / f"{module}.py")
    solved = bundle_pa3(student_bundle, "check", cwd=work)
    assert solved.returncode == 0, solved.stdout[-3000:]
    assert "Visible tests: 96 / 96 points; all passed." in solved.stdout


def test_pack_writes_exactly_the_required_files(tmp_path):
    folder = build_submission(tmp_path / "work", extra={"notes.txt": "scratch", "test_mine.py": "pass\n"})
    (folder / "PA3.ipynb").write_text((REFERENCE_DIR / "PA3.ipynb").read_text())  # saved without outputs
    report = pack(folder)
    assert report.errors == [] and report.archive == folder / "PA3.zip"
    with zipfile.ZipFile(report.archive) as zf:
        assert sorted(zf.namelist()) == sorted(REQUIRED_FILES)
    assert any("no outputs" in w for w in report.warnings)
    assert grade(report.archive, notebook=False).score == 104


def test_pack_suggests_fixes_for_near_misses(tmp_path):
    folder = build_submission(tmp_path / "work", rename={"layers.py": "layer.py"},
                              edits={"activations.py": [("class SoftMax(Activation):", "class Softmax(Activation):")]})
    (folder / "PA3_qa.pdf").unlink()
    report = pack(folder)
    assert report.archive is None and not (folder / "PA3.zip").exists()
    assert "layers.py is missing; found layer.py: rename it to layers.py" in report.errors
    assert "activations.py: class SoftMax is missing; rename Softmax to SoftMax" in report.errors
    assert any("PA3_qa.pdf is missing" in w for w in report.warnings)


def test_pack_command_reports_and_exits_nonzero(tmp_path):
    folder = build_submission(tmp_path / "work", drop=("loss.py",))
    result = subprocess.run([sys.executable, "-m", "grader.cli", "pack", str(folder)], capture_output=True, text=True)
    assert result.returncode == 1 and "loss.py is missing" in result.stderr


@pytest.mark.slow
def test_check_notebook_uses_the_students_own_data_folder(tmp_path, synth_root, monkeypatch):
    from grader.check import check

    folder = build_submission(tmp_path / "PA3")
    shutil.copytree(synth_root, folder / "data")  # DATA_DIR defaults to "data" beside the notebook
    monkeypatch.chdir(tmp_path)  # data/ is found beside the notebook, not in the current directory
    monkeypatch.delenv("PA3_DATA_DIR", raising=False)
    monkeypatch.delenv("PA3_FMNIST_DIR", raising=False)
    result = check(folder, notebook=True)
    section2 = [t for t in result.tests if t.number.startswith("2.")]
    assert len(section2) == 7 and all(t.status == "passed" for t in section2), [t.output for t in section2]
    assert result.score == 96 + 44
