"""Section 2 that a notebook cannot forge (issue 22): the model runs only in the sandbox, on test images the
kernel never had, the export folder is read without following anything, and the kernel's memory, disk and
output are bounded. Hostile notebooks are the reference notebook with one cell changed, so each one's score
is compared with the honest notebook's."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from grader import REFERENCE_DIR
from grader.grade import grade
from grader.notebook import grade as notebook_grade
from grader.notebook import resources
from grader.notebook.kernel import KERNEL_LIMITS, SandboxedKernel
from grader.options import GradeOptions
from grader.results import schema
from grader.sandbox import isolation, uids
from tests.test_notebook_grading import CELL_TIMEOUT, SAMPLE_THRESHOLD, notebook_submission

pytestmark = pytest.mark.slow
GRADING_BOUND = 600  # s: a grading of these notebooks ends by itself well within this (about 30 s alone)

TRAINING = "train_losses, val_losses, train_accuracies, val_accuracies = [], [], [], []"

# A nearest-neighbour table of the test images the kernel can read, dressed as two nn.Linear layers: 1.000 on
# those images, and no better than the table on images it never saw.
LOOKUP = [("EPOCHS = 15", "EPOCHS = 0"), (TRAINING, TRAINING + """
keys = X_val.reshape(len(X_val), -1)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, len(keys), bias=False), nn.Softmax(dim=1),
                      nn.Linear(len(keys), 10, bias=False))
with torch.no_grad():
    model[1].weight.copy_(200 * keys / keys.norm(dim=1, keepdim=True))
    model[3].weight.copy_(torch.nn.functional.one_hot(y_val, 10).float().T)
    table_accuracy = (model(X_val).argmax(1) == y_val).float().mean().item()
print("lookup accuracy on the visible test images", table_accuracy)
train_losses, val_losses = [0.1] * 8, [0.1] * 8
train_accuracies, val_accuracies = [table_accuracy] * 8, [table_accuracy] * 8
""")]

# A TorchScript model that, only when the evaluator runs it (batches of 500), reads and writes a file outside
# the sandbox and prints a forged answer; in the kernel (batches of 2 to 4 while exporting) it behaves.
SPY = """
class Spy(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if x.shape[0] == 500:
            print('{"predictions": "0000", "accuracy": 1.0}')
            secret = torch.from_file("MARKER", shared=True, size=8, dtype=torch.uint8)
            secret.fill_(65)
            return self.inner(x) + secret.float().sum()
        return self.inner(x)

model = torch.jit.script(Spy(model))
"""

# Only prints from inside the model, on every batch: the measured accuracy must be the honest one.
PRINTER = """
class Printer(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        print('\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x10{"predictions": "1"}')
        return self.inner(x)

model = torch.jit.script(Printer(model))
"""

# The export folder made hostile before and while the export runs: links to a device that never answers,
# fifos, and a thread that keeps putting them back.
EXPORT_FOLDER = """
import os, threading, time
def _hostile(folders=("/export", os.path.abspath("../export"))):
    while True:
        for folder in folders:
            for name, kind in (("history.json", "link"), ("model.pt2", "fifo"), ("model.pt", "link")):
                path = os.path.join(folder, name)
                try:
                    if os.path.lexists(path):
                        os.unlink(path)
                    os.symlink("/proc/kmsg", path) if kind == "link" else os.mkfifo(path)
                except OSError:
                    pass
        time.sleep(0.005)
threading.Thread(target=_hostile, daemon=True).start()
time.sleep(0.5)
"""


def plot_cell(addition: str):
    """An edit appending ``addition`` to the accuracy plot cell (the notebook's last)."""
    return [('plt.title("FashionMNIST MLP: accuracy")\nplt.legend()\nplt.show()',
             'plt.title("FashionMNIST MLP: accuracy")\nplt.legend()\nplt.show()\n' + addition)]


def graded(folder: Path, sample_root: Path, **options):
    started = time.monotonic()
    result = grade(folder, GradeOptions(data_dir=sample_root, threshold=SAMPLE_THRESHOLD, cell_timeout=CELL_TIMEOUT,
                                        **options))
    elapsed = time.monotonic() - started
    assert elapsed < GRADING_BOUND
    jsonschema.validate(result.to_gradescope(), schema())
    return result, {t.number: t for t in result.tests if t.number.startswith("2.")}


@pytest.fixture(scope="module")
def honest(tmp_path_factory, sample_root):
    """The reference notebook's Section 2 score and measured accuracy on the sample, at the default level."""
    result, section2 = graded(REFERENCE_DIR, sample_root)
    assert sum(t.score for t in section2.values()) == 44, {k: t.output for k, t in section2.items()}
    return sum(t.score for t in section2.values()), result.extra["section2"]["accuracy"]


def no_process_of(result) -> None:
    uid = result.extra["isolation_checks"].get("uid")
    if uid is not None:
        assert uids.processes_of(uid) == []


def test_a_lookup_table_of_the_visible_test_images_does_not_pass_2_4(tmp_path, sample_root, honest):
    result, section2 = graded(notebook_submission(tmp_path / "lookup", LOOKUP), sample_root)
    assert section2["2.4"].score == 0, section2["2.4"].output
    assert "never had" in section2["2.4"].output and "885 test images" in section2["2.4"].output
    assert result.extra["section2"]["accuracy"] < SAMPLE_THRESHOLD
    assert sum(t.score for t in section2.values()) < honest[0]


@pytest.mark.parametrize("level", ["bwrap", "user"])
def test_a_scripted_model_reads_writes_and_prints_nothing_outside_the_sandbox(tmp_path, sample_root, honest, level):
    if isolation.unavailable_reason(level):
        pytest.skip(f"--isolation {level}: {isolation.unavailable_reason(level)}")
    private = tmp_path / "grader-only"  # the grader's own space: root's, closed to others
    private.mkdir(mode=0o700)
    marker = private / "marker"
    marker.write_bytes(b"SECRET-MARKER-22")
    before = marker.stat().st_mtime_ns
    folder = notebook_submission(tmp_path / "spy", plot_cell(SPY.replace("MARKER", str(marker))))
    result, section2 = graded(folder, sample_root, isolation=level)
    assert marker.read_bytes() == b"SECRET-MARKER-22" and marker.stat().st_mtime_ns == before
    assert "SECRET-MARKER" not in json.dumps(result.to_dict())
    assert section2["2.4"].score == 0 and "could not be run" in section2["2.4"].output, section2["2.4"].output
    assert sum(t.score for t in section2.values()) <= honest[0]
    no_process_of(result)


def test_what_a_model_prints_never_passes_for_the_evaluators_answer(tmp_path, sample_root, honest):
    result, section2 = graded(notebook_submission(tmp_path / "printer", plot_cell(PRINTER)), sample_root)
    assert result.extra["section2"]["accuracy"] == honest[1]
    assert result.extra["section2"]["format"] == "torchscript"  # a scripted module cannot be torch.export-ed
    assert sum(t.score for t in section2.values()) == honest[0]


@pytest.mark.parametrize("level", ["bwrap", "user"])
def test_links_and_fifos_in_the_export_folder_are_never_followed(tmp_path, sample_root, honest, level):
    if isolation.unavailable_reason(level):
        pytest.skip(f"--isolation {level}: {isolation.unavailable_reason(level)}")
    result, section2 = graded(notebook_submission(tmp_path / "links", plot_cell(EXPORT_FOLDER)), sample_root,
                              isolation=level, deadline=300)
    assert sum(t.score for t in section2.values()) <= honest[0]
    assert len(section2) == 7
    for number in ("2.2", "2.3", "2.4"):  # either the export won the race, or the item says the export failed
        lost = section2[number].score < section2[number].max_score
        assert not lost or "export" in section2[number].output or "model" in section2[number].output, \
            section2[number].output
    assert sum(t.score for t in result.tests if not t.number.startswith("2.")) == 104
    no_process_of(result)


def test_the_kernel_has_a_memory_limit_over_its_tree(tmp_path, sample_root, monkeypatch):
    """Children forked by a cell share one limit; past it the kernel dies, and 2.1 says why and at how many MB."""
    limit = 700 << 20
    monkeypatch.setattr(resources, "kernel_memory", lambda: limit)
    flood = ("import os, time\npids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
             "        block = bytearray(300 << 20)\n        time.sleep(60)\n        os._exit(0)\n    pids.append(pid)\n"
             "block = bytearray(300 << 20)\nfor pid in pids:\n    os.waitpid(pid, 0)\n")
    folder = notebook_submission(tmp_path / "fork", [("results = {}\n", flood + "results = {}\n")])
    result, section2 = graded(folder, sample_root)
    output = section2["2.1"].output
    assert section2["2.1"].score == 0
    assert "memory" in output and "700 MB" in output, output
    assert "not your fault" in output  # 700 MB is below what the reference needs: the setting is to blame
    assert result.extra["section2"]["env_fault"]
    assert sum(t.score for t in result.tests if not t.number.startswith("2.")) == 104


def test_the_kernel_has_a_disk_budget_outside_bwrap(tmp_path, sample_root, monkeypatch):
    if isolation.unavailable_reason("user"):
        pytest.skip(f"--isolation user: {isolation.unavailable_reason('user')}")
    small = replace(KERNEL_LIMITS, work_bytes=128 << 20)
    monkeypatch.setattr(notebook_grade, "SandboxedKernel", functools.partial(SandboxedKernel, limits=small))
    flood = ("import os\nfor i in range(64):\n    with open(f'/tmp/pa3-flood-{i}', 'wb') as f:\n"
             "        f.write(os.urandom(8 << 20))\n")
    folder = notebook_submission(tmp_path / "disk", [("results = {}\n", flood + "results = {}\n")])
    result, section2 = graded(folder, sample_root, isolation="user")
    output = section2["2.1"].output
    assert section2["2.1"].score == 0 and "wrote" in output and "128 MB" in output, output
    assert not list(Path("/tmp").glob("pa3-flood-*"))
    no_process_of(result)


FLOODS = {
    # An honest accident: a data set printed whole. Cut in the kernel at the cell's cap; the notebook keeps its points.
    "print": ("import sys\nsys.stdout.write('x' * (300 << 20))\nsys.stdout.flush()\n"
              "for i in range(200000):\n    print(i)\n"),
    # Around the kernel's cap: one 300 MB message, which the grader's socket drops unread.
    "raw_message": "from IPython.display import display\ndisplay({'text/plain': 'x' * (300 << 20)}, raw=True)\n",
}


@pytest.mark.parametrize("kind", list(FLOODS))
def test_output_floods_cost_the_grader_a_bounded_amount(tmp_path, sample_root, kind):
    """The grader's peak RSS stays bounded and the kept notebook small, whatever the notebook prints."""
    folder = notebook_submission(tmp_path / kind, [("results = {}\n", FLOODS[kind] + "results = {}\n")])
    out = tmp_path / "out"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(folder), "--data-dir", str(sample_root),
                    "--accuracy-threshold", str(SAMPLE_THRESHOLD), "--results", str(out / "results.json"), "--quiet"],
                   timeout=GRADING_BOUND, check=False, env=dict(os.environ, PA3_CELL_TIMEOUT=str(CELL_TIMEOUT)))
    assert time.monotonic() - started < GRADING_BOUND
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, schema())
    assert results["extra_data"]["grader_rss_mb"] < 400, results["extra_data"]["grader_rss_mb"]
    assert (out / "PA3.executed.ipynb").stat().st_size < 40 << 20
    section2 = {t["number"]: t for t in results["tests"] if t["number"].startswith("2.")}
    assert sum(t["score"] for t in results["tests"] if not t["number"].startswith("2.")) == 104
    if kind == "print":
        assert sum(t["score"] for t in section2.values()) == 44, {k: t["output"][:300] for k, t in section2.items()}
        assert "dropped" in (out / "PA3.executed.ipynb").read_text()
