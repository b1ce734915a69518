#!/usr/bin/env bash
# Set up a fresh machine: system packages (bubblewrap for the sandbox), a venv, the project and its dev extras.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        # A fresh machine has no package lists yet, and may be running its own apt at boot: wait for its lock.
        [ -n "${APT_UPDATED:-}" ] || { apt-get -o DPkg::Lock::Timeout=300 update -qq \
            || echo "setup: apt-get update failed; trying the package lists as they are" >&2; APT_UPDATED=1; }
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >/dev/null
    else
        echo "setup: please install $* (needs root and apt-get)" >&2
        return 1
    fi
}
command -v bwrap >/dev/null 2>&1 || apt_install bubblewrap || echo "setup: no bubblewrap; grading falls back to weaker isolation" >&2
# Headless Chromium renders the batch summary in a test (a screenshot); without it that check is skipped.
if [ "$(id -u)" = 0 ]; then
    command -v chromium >/dev/null 2>&1 || apt_install chromium || echo "setup: no chromium; the summary screenshot test is skipped" >&2
fi

# The sandbox runs student code as an unprivileged user, who must be able to read the interpreter.
# When python3 lives under a private home (pyenv in /root, say), use the system Python instead.
reachable='import sys, os, stat; p = os.path.realpath(sys.base_prefix)
while True:
    if not os.stat(p).st_mode & stat.S_IXOTH: sys.exit(1)
    if p == "/": break
    p = os.path.dirname(p)'
if [ "$(id -u)" = 0 ] && ! "$PYTHON" -c "$reachable" && [ -x /usr/bin/python3 ]; then
    echo "setup: $PYTHON is not readable by an unprivileged user; using /usr/bin/python3 for the venv"
    PYTHON=/usr/bin/python3
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { echo "setup: $PYTHON is $("$PYTHON" --version 2>&1); the project needs Python 3.10 or newer (PYTHON=...)" >&2
         exit 1; }
# Debian and Ubuntu ship venv's pip bootstrap separately (python3-venv, python3.N-venv).
if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
    version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install python3-venv "python$version-venv" || apt_install python3-venv \
        || { echo "setup: $PYTHON cannot make a venv (no ensurepip)" >&2; exit 1; }
fi
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
echo "setup: done ($(.venv/bin/python --version)); run the tests with .venv/bin/python -m pytest"
