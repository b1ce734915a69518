#!/usr/bin/env bash
# Gradescope image build: system packages, a venv with pinned CPU-only PyTorch, FashionMNIST.
# The grader itself is not installed into the venv: run_autograder puts /autograder/source on
# PYTHONPATH, so its specs and oracle stay in a folder that student code cannot read.
set -euo pipefail
ROOT="${PA3_AUTOGRADER_ROOT:-/autograder}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip bubblewrap util-linux >/dev/null
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install -q --upgrade pip
# CPU-only builds: Gradescope's default container has 768 MB; the CUDA build of torch takes ~640 MB once imported.
"$ROOT/venv/bin/python" -m pip install -q --index-url https://download.pytorch.org/whl/cpu -r "$ROOT/source/requirements-torch.txt"
"$ROOT/venv/bin/python" -m pip install -q -r "$ROOT/source/requirements.txt"
# FashionMNIST is fetched now, at image build time, so grading runs offline.
PYTHONPATH="$ROOT/source" "$ROOT/venv/bin/python" -m grader.cli data download --out "$ROOT/fmnist"
chmod -R o+rX "$ROOT/fmnist" "$ROOT/venv"
