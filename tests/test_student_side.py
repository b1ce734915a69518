"""The student bundle holds no solution; pa3 check and pa3 pack work from it."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader import PROJECT_ROOT, REFERENCE_DIR
from grader.builders import student_bundle as bundle
from grader.grade import grade
from grader.options import GradeOptions
from grader.pack import pack
from grader.sandbox.isolation import hand_over
from test_specs.contract import REQUIRED_FILES, STUDENT_MEMBERS
from tests.corpus import build as build_submission
from tests.corpus import half_finished
from tests.helpers import call_member, load_flat

STUDENT_MEMBERS_FLAT = [m for members in STUDENT_MEMBERS.values() for m in members]
REGION = re.compile(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", re.S)


@pytest.fixture(scope="module")
def student_bundle(tmp_path_factory) -> Path:
    return bundle.build(tmp_path_factory.mktemp("bundle") / "PA3-bundle")


def bundle_pa3(student_bundle: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the bundle's own `pa3` (its package and specs, not the repo's)."""
    env = dict(os.environ, PYTHONPATH=str(student_bundle / "selfcheck"))
    return subprocess.run([sys.executable, "-m", f"{bundle.PACKAGE}.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


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
    probe = subprocess.run([sys.executable, "-c", f"import {bundle.PACKAGE}; print({bundle.PACKAGE}.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path,
                           env=dict(os.environ, PYTHONPATH=str(student_bundle / "selfcheck")))
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
    assert grade(report.archive, GradeOptions(notebook=False)).score == 104


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
    from rich.console import Console

    from grader.selfcheck import run

    folder = build_submission(tmp_path / "PA3")
    shutil.copytree(synth_root, folder / "data")  # DATA_DIR defaults to "data" beside the notebook
    monkeypatch.chdir(tmp_path)  # data/ is found beside the notebook, not in the current directory
    monkeypatch.delenv("PA3_DATA_DIR", raising=False)
    monkeypatch.delenv("PA3_FMNIST_DIR", raising=False)
    console = Console(file=io.StringIO(), width=80)
    status, result = run((), folder, notebook=True, console=console)  # `pa3 check --notebook`
    section2 = [t for t in result.tests if t.number.startswith("2.")]
    assert len(section2) == 7 and all(t.status == "passed" for t in section2), [t.output for t in section2]
    assert result.score == 96 + 44 and status == 0
    report = console.file.getvalue()  # the same progress view, the notebook as one more member
    assert re.search(r"^  done\s+PA3\.ipynb\s+7 of 7 tests pass$", report, re.M), report
    assert report.count("  done  ") == len(STUDENT_MEMBERS_FLAT) + 1 and "failing" not in report


def test_bundle_imports_nothing_named_grader_or_test_specs(student_bundle):
    selfcheck = student_bundle / "selfcheck"
    assert {p.name for p in selfcheck.iterdir()} == {bundle.PACKAGE, "pyproject.toml"}
    assert "grader" in bundle.top_level_imports((PROJECT_ROOT / "grader" / "grade.py").read_text())  # teeth
    sources = sorted(selfcheck.rglob("*.py"))
    assert len(sources) > 40
    for path in sources:
        text = path.read_text()
        assert not bundle.top_level_imports(text) & {"grader", "test_specs"}, path
        assert not re.search(r"""["'](grader|test_specs)\.""", text), path  # module names for -m and plugins
    assert f'pa3 = "{bundle.PACKAGE}.cli:main"' in (selfcheck / "pyproject.toml").read_text()


def as_nobody(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    prefix = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + argv, capture_output=True, text=True, timeout=600, **kwargs)


def test_bundle_in_a_fresh_venv_as_an_unprivileged_user(tmp_path):
    """pip install ./selfcheck into a new venv as uid 65534, then `pa3 check` and check() from there: the bundle's
    own code (nothing of the repo is importable), the same verdicts as the repo on the same files."""
    root = Path(tempfile.mkdtemp(prefix="pa3-fresh-venv-"))  # pytest's tmp is 0700 root: uid 65534 cannot enter
    try:
        built = bundle.build(root / "bundle")
        half = half_finished(root / "half")
        (root / "home").mkdir()
        if os.geteuid() == 0:
            hand_over(root, 65534)
        env = {"HOME": str(root / "home"), "PATH": "/usr/local/bin:/usr/bin:/bin", "PIP_NO_CACHE_DIR": "1",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1", "COLUMNS": "80"}
        venv, python = root / "venv", root / "venv" / "bin" / "python"
        made = as_nobody([str(Path(sys.executable).resolve()), "-m", "venv", "--without-pip", str(venv)], env=env)
        assert made.returncode == 0, made.stderr
        # The heavy dependencies (numpy, pytest, rich...) come from this project's venv through a .pth, so nothing
        # downloads; its .pth files (the editable install of the repo) are not processed from there.
        purelib = as_nobody([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env)
        Path(purelib.stdout.strip(), "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        installed = as_nobody([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                               "--no-index", str(built / "selfcheck")], env=env)
        assert installed.returncode == 0, installed.stdout + installed.stderr

        probe = as_nobody([str(python), "-c", "import os, pa3_selfcheck; print(os.getuid(), pa3_selfcheck.__file__)"],
                          env=env, cwd=root)
        assert probe.stdout.split() == ["65534" if os.geteuid() == 0 else str(os.geteuid()),
                                        str(venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" /
                                            "site-packages" / "pa3_selfcheck" / "__init__.py")], probe.stderr
        for name in ("grader", "test_specs"):
            assert as_nobody([str(python), "-c", f"import {name}"], env=env, cwd=root).returncode != 0

        template = as_nobody([str(venv / "bin" / "pa3"), "check"], env=env, cwd=built / "PA3")
        assert template.returncode == 1 and "Traceback" not in template.stderr, template.stderr
        assert len(template.stdout.splitlines()) <= 20 and "Visible tests: 0 / 96 points" in template.stdout

        ours = as_nobody([str(venv / "bin" / "pa3"), "check", "--record", str(root / "home" / "ours.json")], env=env,
                         cwd=half)
        assert ours.returncode == 1 and "FullyConnectedLayer.backward" in ours.stdout, ours.stdout + ours.stderr
        repo = subprocess.run([sys.executable, "-m", "grader.cli", "check", "--record", str(tmp_path / "repo.json")],
                              cwd=half, capture_output=True, text=True, timeout=300)
        verdicts = [[(t["number"], t["status"], t["score"]) for t in json.loads(p.read_text())["tests"]]
                    for p in (root / "home" / "ours.json", tmp_path / "repo.json")]
        assert verdicts[0] == verdicts[1] and repo.returncode == 1

        code = ("import sys; from pa3_selfcheck import check; check('relu', folder=sys.argv[1]); "
                "print(sorted({m.split('.')[0] for m in sys.modules} & {'grader', 'test_specs'}))")
        entry = as_nobody([str(python), "-c", code, str(half)], env=env, cwd=root)
        assert entry.returncode == 0 and entry.stdout.rstrip().endswith("[]"), entry.stdout + entry.stderr
        assert "ReLU.forward" in entry.stdout and "Visible tests of relu: 14 / 14 points; all passed." in entry.stdout
    finally:
        shutil.rmtree(root, ignore_errors=True)
