"""`pa3 build autograder`: the Gradescope autograder zip.

Layout (Gradescope unzips it into /autograder/source): setup.sh, run_autograder, pinned
requirements, and the grader and test_specs packages with the grader-supplied files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader import PROJECT_ROOT, PROVIDED_DIR, PROVIDED_FILES, atomic

GRADESCOPE_DIR = PROJECT_ROOT / "docker" / "gradescope"
# Pinned versions, tested together here; shared with the TA image (docker/Dockerfile).
REQUIREMENTS = {"requirements.txt": PROJECT_ROOT / "docker" / "requirements.txt",
                "requirements-torch.txt": PROJECT_ROOT / "docker" / "requirements-torch.txt"}


def _sources():
    for package in ("grader", "test_specs"):
        for path in sorted((PROJECT_ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and "provided" not in path.parts:
                yield path, path.relative_to(PROJECT_ROOT).as_posix()


# What to choose in Gradescope's assignment settings, measured with docker/test-image.sh's Gradescope simulation
# (setup.sh's torch) on the reference notebook at the real size (60,000/10,000 images): 768 MB and 0.5 CPU
# kill the kernel for memory in 13 s; 1.5 GB and 1 CPU gave 148/148 in 508 s (peak 973 MiB) on a loaded
# 2-core machine, close to the 540 s a 10-minute timeout leaves.
SETTINGS = ("Gradescope settings for this autograder (measured at the real size, see README): "
            "memory at least 1.5 GB (the default 768 MB cannot hold the reference notebook), "
            "at least 1 CPU, and an autograder timeout of at least 15 minutes "
            "(set PA3_GRADESCOPE_TIMEOUT to the same number of seconds)")


def build(out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            zf.writestr(info, (GRADESCOPE_DIR / name).read_bytes(), zipfile.ZIP_DEFLATED)
        for name, path in REQUIREMENTS.items():
            zf.write(path, name)
        for path, rel in _sources():
            zf.write(path, rel)
        for rel in PROVIDED_FILES:
            zf.write(PROVIDED_DIR / rel, f"grader/provided/{rel}")
    return out
