#!/usr/bin/env bash
# Set up a fresh machine: system packages (bubblewrap for the sandbox), a venv, the project and its dev extras.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "setup: bubblewrap (bwrap) is not installed; grading falls back to weaker isolation" >&2
    fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
echo "setup: done; run the tests with .venv/bin/python -m pytest"
