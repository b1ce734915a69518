"""How much Section 2's measured accuracy varies between gradings of the same notebook (README, "Threshold
stability"): the starter recipe (reference/PA3.ipynb) graded RUNS times as it is (seeded with
torch.manual_seed(0)) and RUNS times without its seed, Section 2 only, one torch thread.

    .venv/bin/python -m benchmarks.threshold_stability [RUNS] [FASHIONMNIST_DIR]

FASHIONMNIST_DIR defaults to the sample the tests use (PA3_FMNIST_SAMPLE or ../shared/data/fashion-mnist-sample).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from grader import REFERENCE_DIR, fashion_data
from grader.grade import grade
from grader.options import GradeOptions
from tests.conftest import SAMPLE_DIR


def measured(folder: Path, root: Path) -> float:
    result = grade(folder, GradeOptions(data_dir=root, threshold=0.5, only=("notebook",), threads=1))
    name = next(t.name for t in result.tests if t.number == "2.4")
    found = re.search(r"measured ([0-9.]+)", name)
    if found is None:
        raise RuntimeError(f"no accuracy measured: {next(t.output for t in result.tests if t.number == '2.4')}")
    return float(found.group(1))


def main(runs: int = 3, source: Path = SAMPLE_DIR) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = fashion_data.prepare(source, Path(tmp) / "fmnist").parents[1]
        for seeded in (True, False):
            folder = Path(tmp) / ("seeded" if seeded else "unseeded")
            shutil.copytree(REFERENCE_DIR, folder)
            if not seeded:
                nb = nbformat.read(folder / "PA3.ipynb", as_version=4)
                for cell in nb.cells:
                    cell.source = cell.source.replace("torch.manual_seed(0)\n", "")
                nbformat.write(nb, str(folder / "PA3.ipynb"))
            values = [measured(folder, root) for _ in range(runs)]
            print(f"{folder.name}: {', '.join(f'{v:.3f}' for v in values)} "
                  f"(spread {max(values) - min(values):.3f})", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, Path(sys.argv[2]) if len(sys.argv) > 2 else SAMPLE_DIR)
