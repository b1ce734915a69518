"""summary.html for a mixed class, as a TA sees it in a browser (headless Chromium screenshot)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from grader import fashion_data
from grader.batch import grades
from grader.batch.run import run_batch
from grader.options import BatchOptions, GradeOptions
from grader.render import class_summary as reports
from tests import corpus, student_notebooks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fmnist-small")
    fashion_data.synth(root, 2000, 1000, seed=0)
    return root


@pytest.fixture(scope="module")
def mixed_class(tmp_path_factory, small_root) -> Path:
    """Graded in two runs, as a TA does when a late submission arrives: notebooks that earn everything or
    miss the plots, a missing and a misnamed file, an unreadable zip, then one that hangs (timeout)."""
    folder = tmp_path_factory.mktemp("mixed") / "in"
    student_notebooks.submission(folder / "ada", "base")
    cleo = student_notebooks.submission(folder / "cleo", "plots_before_training")
    file, old, new, _ = corpus.MUTANTS["fc_forward_no_bias"]
    (cleo / file).write_text((cleo / file).read_text().replace(old, new))
    corpus.build(folder / "dan", drop=("model.py", "PA3.ipynb"))
    corpus.build(folder / "fay", rename={"layers.py": "layer.py"}, drop=("PA3.ipynb",))
    (folder / "eve.zip").write_bytes(b"this is not a zip")
    out = folder.parent / "out"
    options = BatchOptions(GradeOptions(data_dir=small_root, threshold=0.8), timeout=600)
    run_batch(folder, out, workers=2, options=options, show_progress=False)
    corpus.build(folder / "hal", {"loss.py": [("import numpy as np\n", "import numpy as np\nwhile True:\n    pass\n")]},
                 drop=("PA3.ipynb",))
    run_batch(folder, out, workers=2, resume=True, options=replace(options, timeout=8), show_progress=False)
    return out


def test_the_summary_lists_who_needs_a_human_and_what_to_teach_again(mixed_class):
    with open(mixed_class / "grades.csv") as f:
        table = {row["id"]: row for row in csv.DictReader(f)}
    assert table["hal"]["status"] == "timeout" and table["eve"]["status"] == "malformed"
    assert "model.py is missing" in table["dan"]["message"] and "rename it to layers.py" in table["fay"]["message"]
    assert table["ada"]["message"] == "" and table["ada"]["total"] == "148"

    rows = grades.load_results(mixed_class)
    assert [r["id"] for r in reports.needs_a_human(rows)] == ["dan", "eve", "fay", "hal"]
    members, items = reports.pass_rates(rows)
    assert list(members) == list(reports.MEMBERS) and len(members) == 11
    # cleo (mutant) and fay (no layers.py) fail
    assert members["ReLU.forward"]["all"] == 4 and members["FullyConnectedLayer.forward"]["all"] == 2
    assert [label.split()[0] for label in items] == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]
    loss_plot = next(r for label, r in items.items() if label.startswith("2.6"))
    assert loss_plot["all"] == 1 and loss_plot["of"] == 4  # only ada's plot shows the curves

    page = (mixed_class / "summary.html").read_text()
    needs = page.index("Needs a human (4)")
    assert needs < page.index("Pass rate per graded member") < page.index("Pass rate per Section 2 item") \
        < page.index("Pass rate per test") < page.index("Grading time per submission")
    # hal is stopped by the grader's own deadline (results written) or, on a slow start, killed at 8 s
    assert (("grading took longer than 8 s" in page or "cut short by the time limit" in page)
            and "not a readable zip" in page)


def test_the_summary_renders_in_a_real_browser(mixed_class, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; setup.sh installs it as root)")
    from PIL import Image, ImageStat

    shot = tmp_path / "summary.png"
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", "--window-size=1280,3600",
                           (mixed_class / "summary.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    shutil.copyfile(mixed_class / "summary.html", tmp_path / "summary.html")  # beside the screenshot
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 3600)
    # Not blank: text and six charts give dark pixels well down the page (a broken image would leave it white).
    top, bottom = image.crop((0, 0, 1280, 1800)), image.crop((0, 1800, 1280, 3600))
    for half in (top, bottom):
        assert ImageStat.Stat(half).stddev[0] > 20
        assert sum(half.point(lambda v: 255 if v < 128 else 0).histogram()[255:]) > 5000
    print(f"\nscreenshot of the summary: {shot}")
