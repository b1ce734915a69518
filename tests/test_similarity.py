"""`pa3 similarity` on a class of honest, independently written submissions with planted copies
(tests/similarity_class.py): every copy ranks above every honest pair, and only the copies are flagged."""

from __future__ import annotations

import json
import shutil
from itertools import combinations
from pathlib import Path

import pytest

from grader.cli import main
from tests import similarity_class


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> tuple[Path, list[tuple[str, str]], dict]:
    root = tmp_path_factory.mktemp("similarity")
    pairs = similarity_class.write_class(root / "class")
    # Two students who handed in the starter code untouched share all of it: that is no evidence.
    for ident in ("untouched_a", "untouched_b"):
        shutil.copytree(Path(__file__).parents[1] / "student_template", root / "class" / ident)
    # Hostile text in a copied part reaches the page: it must stay text.
    copy = root / "class" / "copy_renamed" / "PA3.ipynb"
    copy.write_text(copy.read_text().replace("optimizer.step()", "optimizer.step()  # </pre><script>alert(1)</script>"))
    assert main(["similarity", str(root / "class"), "--out", str(root / "out")]) == 0
    report = json.loads((root / "out" / "similarity.json").read_text())
    return root, pairs, report


def test_every_planted_copy_ranks_above_every_honest_pair_and_only_copies_are_flagged(graded_class):
    root, planted, report = graded_class
    scores = {frozenset((p["a"], p["b"])): p for p in report["pairs"]}
    ids = sorted(p.name for p in (root / "class").iterdir())
    assert set(scores) == {frozenset(pair) for pair in combinations(ids, 2)}  # every pair, once
    copies = [scores[frozenset(pair)] for pair in planted]
    honest = [p for key, p in scores.items() if key not in {frozenset(pair) for pair in planted}]
    assert min(p["score"] for p in copies) > max(p["score"] for p in honest)
    assert all(p["flagged"] for p in copies) and not any(p["flagged"] for p in honest)
    # students 2 and 5 hand in the same short vectorised members (relu backward, softmax, the loss): not flagged
    assert scores[frozenset(("honest_2", "honest_5"))]["score"] < report["method"]["flag_at"] / 2
    assert scores[frozenset(("untouched_a", "untouched_b"))]["score"] == 0


def test_the_report_shows_each_flagged_pair_side_by_side_as_inert_text(graded_class):
    root, _, _ = graded_class
    page = (root / "out" / "similarity.html").read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page and "&lt;script&gt;alert(1)" in page
    assert page.count("<section>") == 3 and page.count("<mark>") >= 6
    assert "copy_renamed and honest_0" in page or "honest_0 and copy_renamed" in page


def test_an_archive_is_compared_with_the_class_only(graded_class, tmp_path):
    root, _, _ = graded_class
    archive = tmp_path / "fall2025"
    shutil.copytree(root / "class" / "honest_2", archive / "old_a")
    shutil.copytree(root / "class" / "honest_2", archive / "old_b")  # identical to each other: never compared
    class_dir = tmp_path / "class"
    for ident in ("honest_2", "honest_3", "honest_5"):
        shutil.copytree(root / "class" / ident, class_dir / ident)
    assert main(["similarity", str(class_dir), "--out", str(tmp_path / "out"), "--archive", str(archive)]) == 0
    pairs = json.loads((tmp_path / "out" / "similarity.json").read_text())["pairs"]
    names = {frozenset((p["a"], p["b"])) for p in pairs}
    assert frozenset(("fall2025/old_a", "fall2025/old_b")) not in names
    assert len(pairs) == 3 + 3 * 2
    flagged = {frozenset((p["a"], p["b"])) for p in pairs if p["flagged"]}
    assert flagged == {frozenset(("honest_2", "fall2025/old_a")), frozenset(("honest_2", "fall2025/old_b"))}


def test_notebooks_are_compared_by_their_code_cells_and_bad_input_is_named(tmp_path):
    from grader.similarity.sources import notebook_cells, read_submission

    nb = {"cells": [{"cell_type": "markdown", "source": "x = 1 " * 50},
                    {"cell_type": "code", "source": ["y = 2\n", "print(y)"]}, {"cell_type": "code", "source": 7}]}
    assert notebook_cells(json.dumps(nb).encode()) == [("PA3.ipynb cell 2", "y = 2\nprint(y)\n")]
    assert notebook_cells(b"[" * 100_000) == [] and notebook_cells(b"\xff\xfe") == []
    (tmp_path / "eve.zip").write_bytes(b"this is not a zip")
    code = read_submission(tmp_path / "eve.zip", "eve")
    assert code.parts == [] and "not a readable zip" in code.notes[0]


def test_the_verdicts_hold_in_a_class_too_small_for_the_common_code_rule(graded_class, monkeypatch):
    """Three students are no class to count idioms in: the course solution's windows and the minimum run alone
    keep honest students (students 0, 6 and 7 all write the canonical vectorised members) below the flag."""
    from grader.similarity import fingerprint
    from grader.similarity.run import rank
    from grader.similarity.sources import read_folder

    root, planted, _ = graded_class
    monkeypatch.setattr(fingerprint, "COMMON_MIN", 10_000)  # the class-frequency rule never applies
    codes = [read_folder(p, p.name) for p in sorted((root / "class").iterdir())]
    matches, _ = rank(codes)
    copies = {frozenset(pair) for pair in planted}
    flagged = {frozenset((m.a, m.b)) for m in matches if m.flagged}
    assert flagged == copies
    assert min(m.score for m in matches if frozenset((m.a, m.b)) in copies) > \
        2 * max(m.score for m in matches if frozenset((m.a, m.b)) not in copies)


@pytest.mark.slow
def test_batch_with_similarity_lists_the_flagged_pair_under_needs_a_human(graded_class, tmp_path):
    """pa3 batch --no-notebook --similarity on three submissions without PA3_qa.pdf: the copy is the only thing
    that needs a human (the notebook is not needed by this run, the PDF by none)."""
    root, _, _ = graded_class
    class_dir = tmp_path / "class"
    for ident in ("honest_1", "copy_reordered", "honest_2"):
        shutil.copytree(root / "class" / ident, class_dir / ident)
        (class_dir / ident / "PA3.ipynb").unlink()
    assert main(["batch", str(class_dir), "--out", str(tmp_path / "out"), "--no-notebook", "--similarity",
                 "--workers", "2", "--isolation", "process"]) == 0
    page = (tmp_path / "out" / "summary.html").read_text()
    needs = page[page.index("Needs a human"):page.index("Pass rate per graded member")]
    assert "Needs a human (1)" in needs and "copy_reordered" in needs and "honest_2" not in needs
    assert (tmp_path / "out" / "similarity.html").is_file()


def test_one_copied_member_ranks_above_every_honest_pair(tmp_path):
    """Student 2 hands in their own work but for student 1's loop-based FullyConnectedLayer.backward (13 lines)."""
    import copy

    from grader.similarity.run import rank
    from grader.similarity.sources import read_folder

    similarity_class.write_class(tmp_path)
    own = copy.deepcopy(similarity_class.OWN)
    own[2][("layers.py", 1)] = own[1][("layers.py", 1)]
    original, similarity_class.OWN[:] = similarity_class.OWN[:], own
    try:
        (tmp_path / "honest_2" / "layers.py").write_text(similarity_class.student_files(2)["layers.py"])
    finally:
        similarity_class.OWN[:] = original
    matches, _ = rank([read_folder(p, p.name) for p in sorted(tmp_path.iterdir())])
    copied = {frozenset(p) for p in [("honest_1", "honest_2"), ("copy_reordered", "honest_2"),
                                     ("honest_0", "copy_renamed"), ("honest_1", "copy_reordered"),
                                     ("honest_3", "copy_one_member")]}
    member = next(m for m in matches if {m.a, m.b} == {"honest_1", "honest_2"})
    assert member.flagged and member.runs_a
    assert member.score > max(m.score for m in matches if frozenset((m.a, m.b)) not in copied)


def test_hostile_code_costs_seconds_and_is_compared_as_text(tmp_path):
    """Huge files, a notebook of 40,000 cells, a nesting bomb, NUL bytes, lines that look like the report's own
    labels: each is cut to the bounds (and said so), and the whole comparison ends in seconds."""
    import time

    from grader.similarity.run import rank
    from grader.similarity.sources import read_folder

    cases = {
        "long_line": {"layers.py": "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n" + "y = 'a'" * 20000},
        "many_lines": {"model.py": "a = b + c\n" * 60000},
        "binary": {"loss.py": "\x00\x01 def \x00" * 1000, "util.py": "'''" * 3},
        "cells": {"PA3.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": "z = 1\n"}] * 40000})},
        "nesting": {"PA3.ipynb": "[" * 200_000},
        "labels": {"layers.py": "# ===== activations.py =====\n# --- cell 3\nq = w @ e + r\n" * 10},
    }
    for ident, files in cases.items():
        (tmp_path / ident).mkdir()
        for name, text in files.items():
            (tmp_path / ident / name).write_text(text)
    start = time.monotonic()
    codes = [read_folder(tmp_path / ident, ident) for ident in cases]
    matches, prints = rank(codes)
    assert time.monotonic() - start < 120  # about 6 s here: only a hang fails this
    notes = {c.id: " ".join(c.notes) for c in codes}
    assert "only its first 100000 characters" in notes["many_lines"]
    assert len(prints["cells"].chunks) <= 1000 and not prints["nesting"].chunks
    assert len(matches) == 15 and not any(m.flagged for m in matches)


def test_a_folder_that_is_not_there_is_named_before_anything_runs(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    assert main(["similarity", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                 "--archive", str(tmp_path / "fall2024")]) == 2
    assert main(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--similarity",
                 "--archive", str(tmp_path / "fall2024")]) == 2
    assert capsys.readouterr().err.count(f"{tmp_path / 'fall2024'} is not a folder of submissions") == 2
    assert not (tmp_path / "out").exists()


def test_two_archives_with_the_same_folder_name_keep_apart(graded_class, tmp_path):
    root, _, _ = graded_class
    for term in ("2024", "2025"):
        shutil.copytree(root / "class" / "honest_1", tmp_path / term / "subs" / "old")
    shutil.copytree(root / "class" / "copy_reordered", tmp_path / "class" / "new")
    assert main(["similarity", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--archive",
                 str(tmp_path / "2024" / "subs"), str(tmp_path / "2025" / "subs")]) == 0
    pairs = json.loads((tmp_path / "out" / "similarity.json").read_text())["pairs"]
    assert sorted(p["b"] for p in pairs if p["flagged"]) == ["subs-2/old", "subs/old"]
