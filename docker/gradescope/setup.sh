#!/usr/bin/env bash
# Gradescope image build: system packages, a venv with pinned CPU-only PyTorch, FashionMNIST.
# The grader itself is not installed into the venv: run_autograder puts /autograder/source on
# PYTHONPATH, so its specs and oracle stay in a folder that student code cannot read.
# Overrides, for builds elsewhere than Gradescope (docker/test-image.sh uses both):
#   PA3_TORCH_INDEX    where torch and torchvision come from (default PyTorch's CPU index; empty: pip's own)
#   PA3_FMNIST_SOURCE  a folder of FashionMNIST idx files to use instead of downloading
set -euo pipefail
ROOT="${PA3_AUTOGRADER_ROOT:-/autograder}"
TORCH_INDEX="${PA3_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip bubblewrap util-linux >/dev/null
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install -q --upgrade pip
# CPU-only builds: Gradescope's default container has 768 MB; the CUDA build of torch takes ~640 MB once imported.
torch_index=()
if [ -n "$TORCH_INDEX" ]; then torch_index=(--index-url "$TORCH_INDEX"); fi
"$ROOT/venv/bin/python" -m pip install -q "${torch_index[@]}" -r "$ROOT/source/requirements-torch.txt"
"$ROOT/venv/bin/python" -m pip install -q -r "$ROOT/source/requirements.txt"
# FashionMNIST is fetched now, at image build time, so grading runs offline.
if [ -n "${PA3_FMNIST_SOURCE:-}" ]; then
    PYTHONPATH="$ROOT/source" "$ROOT/venv/bin/python" -m grader.cli data prepare --from "$PA3_FMNIST_SOURCE" --out "$ROOT/fmnist"
else
    PYTHONPATH="$ROOT/source" "$ROOT/venv/bin/python" -m grader.cli data download --out "$ROOT/fmnist"
fi
chmod -R o+rX "$ROOT/fmnist" "$ROOT/venv"
