"""The generated student template: imports, same prototypes, stubs raise, provided code identical, in sync."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys

import pytest

from grader import REFERENCE_DIR, TEMPLATE_DIR
from test_specs.contract import STUDENT_MEMBERS
from tests.helpers import call_member

PUBLIC_MODULES = ("activations", "layers", "loss", "optimizer", "util", "model")


def public_api(module) -> dict[str, str]:
    """{name or Class.method: signature} of everything a module defines itself."""
    api = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            api[name] = "class"
            for attr, member in vars(obj).items():
                if inspect.isfunction(member):
                    api[f"{name}.{attr}"] = str(inspect.signature(member))
        elif inspect.isfunction(obj):
            api[name] = str(inspect.signature(obj))
    return api


def function_sources(path) -> dict[str, str]:
    """{qualified name: exact source} of every function in a module file."""
    source = path.read_text()
    tree = ast.parse(source)
    found = {}
    for node in tree.body:
        children = node.body if isinstance(node, ast.ClassDef) else [node]
        prefix = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
        for child in children:
            if isinstance(child, ast.FunctionDef):
                found[prefix + child.name] = ast.get_source_segment(source, child)
    return found


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_template_has_the_reference_prototypes(ref, tmpl, module):
    assert public_api(getattr(tmpl, module)) == public_api(getattr(ref, module))


@pytest.mark.parametrize("member", [m for members in STUDENT_MEMBERS.values() for m in members])
def test_template_student_members_raise(ref, tmpl, member):
    call_member(ref, member)  # the reference's member runs on the same arguments
    with pytest.raises(NotImplementedError, match=member):
        call_member(tmpl, member)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_provided_members_are_identical(module):
    students = set(STUDENT_MEMBERS.get(module, ()))
    reference = function_sources(REFERENCE_DIR / f"{module}.py")
    template = function_sources(TEMPLATE_DIR / f"{module}.py")
    assert set(reference) == set(template)
    for name, source in reference.items():
        if name not in students:
            assert template[name] == source, f"{module}.{name} differs from the reference"
        else:
            assert "BEGIN SOLUTION" not in template[name] and "NotImplementedError" in template[name]


def test_template_notebook_holds_no_solution():
    import nbformat

    nb = nbformat.read(TEMPLATE_DIR / "PA3.ipynb", as_version=4)
    nbformat.validate(nb)
    text = "".join(cell.source for cell in nb.cells)
    assert "SOLUTION" not in text and "nn.Linear(256, 128)" not in text
    assert 'DATA_DIR = os.environ.get("PA3_DATA_DIR", "data")' in nb.cells[1].source
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")


def pa3(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True)


def test_template_check_passes_on_committed_tree():
    result = pa3("template", "--check")
    assert result.returncode == 0, result.stderr


def test_template_check_fails_after_solution_edit(tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    path = reference / "activations.py"
    path.write_text(path.read_text().replace("return np.maximum(Z, 0.0)", "return np.maximum(Z, 0.0) + 0"))
    result = pa3("template", "--check", "--reference", str(reference))
    assert result.returncode == 1
    assert "activations.py: the reference changed since the template was generated" in result.stderr


def test_template_check_fails_on_edited_template(tmp_path):
    template = tmp_path / "student_template"
    shutil.copytree(TEMPLATE_DIR, template)
    (template / "loss.py").write_text((template / "loss.py").read_text() + "\n# edited\n")
    result = pa3("template", "--check", "--out", str(template))
    assert result.returncode == 1 and "loss.py" in result.stderr
