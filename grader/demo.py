"""`pa3 demo`: a newcomer's first run, on a fresh clone, with nothing to download.

It makes a small synthetic FashionMNIST-format set (grader.fashion_data.synth: 2000 training and 1000 test
images, seed 0) and grades the course solution (reference/) with every section, the notebook included, at an
accuracy threshold set for that set: the reference reaches about 0.92 on it, so DEMO_THRESHOLD leaves a margin.
Real grading uses the real FashionMNIST and the rubric's 0.82."""

from __future__ import annotations

from pathlib import Path

from grader import REFERENCE_DIR, fashion_data

DEMO_TRAIN, DEMO_TEST, DEMO_SEED = 2000, 1000, 0
DEMO_THRESHOLD = 0.85


def demo_data(out: Path) -> Path:
    """The synthetic set under ``out``/fmnist, made once (a later demo reuses it)."""
    root = Path(out) / "fmnist"
    try:
        fashion_data.find_idx_files(root)
    except FileNotFoundError:
        fashion_data.synth(root, DEMO_TRAIN, DEMO_TEST, DEMO_SEED)
    return root


def explain(root: Path, results: Path) -> str:
    return (f"This was the course solution ({REFERENCE_DIR}) on a synthetic FashionMNIST-format set in {root} "
            f"({DEMO_TRAIN} training and {DEMO_TEST} test images, made here, nothing downloaded), with the "
            f"Section 2 accuracy threshold set to {DEMO_THRESHOLD:g} for that set (real grading: the real set, 0.82). "
            f"Results: {results}. A student's submission is graded the same way: "
            f"pa3 grade PA3.zip --data-dir {root} --accuracy-threshold {DEMO_THRESHOLD:g}")
