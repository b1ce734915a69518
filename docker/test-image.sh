#!/usr/bin/env bash
# Builds the TA image from this checkout and checks it for real: docker/test-image.sh [pytest args...]
#   1. a Docker engine (installs docker.io and starts dockerd without networking if none runs);
#   2. base images made once with mmdebstrap from Debian's repository and cached (no image registry
#      is needed): Python 3.11 laid out like python:3.11-slim, and a plain Debian for Gradescope;
#   3. docker build -> pa3-grader:test, with the torch index, pip's CA bundle and FashionMNIST from here;
#   4. tests/test_docker_image.py against it: reference, hostile, batch, secrets, Gradescope envelope.
# Settings (environment):
#   PA3_BASE_IMAGE       use this Python base instead of making one (e.g. python:3.11-slim-bookworm)
#   PA3_TORCH_INDEX      torch's index for the build and setup.sh (default: pip's own index; set it to
#                        https://download.pytorch.org/whl/cpu where that is reachable, for CPU-only torch)
#   PA3_PIP_CERT         CA bundle for pip (default: $PIP_CERT, else pip's configured cert)
#   PA3_FMNIST_SAMPLE    FashionMNIST idx files baked in (default ../shared/data/fashion-mnist-sample;
#                        when absent, the build downloads the real set)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || { echo "run setup.sh first: the checks use .venv" >&2; exit 1; }

say "Docker engine"
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    # No bridge and no iptables rules: containers get --network none, builds --network host.
    nohup dockerd --bridge=none --iptables=false >/var/log/pa3-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info --format 'engine {{.ServerVersion}}, cgroup v{{.CgroupVersion}}, {{.SecurityOptions}}'

debian_base() {  # debian_base TAG [mmdebstrap options...]: made once, then cached as a local image
    local tag=$1; shift
    if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag: cached"; return; fi
    command -v mmdebstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }
    local tar; tar=$(mktemp --suffix=.tar)
    nice mmdebstrap --quiet --variant=minbase "$@" bookworm "$tar" http://deb.debian.org/debian
    docker import -c 'ENV LANG=C.UTF-8' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["bash"]' "$tar" "$tag" >/dev/null
    rm -f "$tar"
    echo "$tag: made with mmdebstrap"
}

say "Base images"
# Like python:3.11-slim: python3, python and pip in /usr/local/bin, and pip may install system-wide.
PY_HOOK='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED; for n in python python3; do ln -sf /usr/bin/python3 "$1/usr/local/bin/$n"; done; for n in pip pip3; do ln -sf /usr/bin/pip3 "$1/usr/local/bin/$n"; done'
BASE_IMAGE=${PA3_BASE_IMAGE:-pa3-base:py311-bookworm}
[ -n "${PA3_BASE_IMAGE:-}" ] || debian_base pa3-base:py311-bookworm \
    --include=python3,python3-pip,python3-venv,ca-certificates --customize-hook="$PY_HOOK"
debian_base pa3-base:bookworm   # Gradescope's Ubuntu images are not reachable here: a plain Debian stands in

say "Site inputs (docker/site/, not committed)"
rm -rf docker/site/ca.crt docker/site/fmnist
CERT=${PA3_PIP_CERT:-${PIP_CERT:-$("$PYTHON" -m pip config get global.cert 2>/dev/null || true)}}
if [ -n "$CERT" ] && [ -f "$CERT" ]; then cp "$CERT" docker/site/ca.crt; echo "pip CA bundle: $CERT"; fi
SAMPLE=${PA3_FMNIST_SAMPLE:-../shared/data/fashion-mnist-sample}
FMNIST_SOURCE=download
if [ -d "$SAMPLE" ]; then
    mkdir -p docker/site/fmnist && cp "$SAMPLE"/*idx* docker/site/fmnist/ && FMNIST_SOURCE=local
fi
echo "FashionMNIST: $FMNIST_SOURCE ${SAMPLE}"
TORCH_INDEX=${PA3_TORCH_INDEX-}
echo "torch index: ${TORCH_INDEX:-the default index of pip}"

say "docker build -> pa3-grader:test"
build_start=$(date +%s)
nice docker build --network host -f docker/Dockerfile -t pa3-grader:test \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg TORCH_INDEX="$TORCH_INDEX" \
    --build-arg PIP_INDEX="${PIP_INDEX_URL:-}" --build-arg FMNIST_SOURCE="$FMNIST_SOURCE" . | grep -E '^(Step|Successfully)'
echo "build: $(( $(date +%s) - build_start )) s; $(docker image inspect pa3-grader:test --format '{{.Size}}' | awk '{printf "%.1f GB", $1/1e9}')"

say "Checks (tests/test_docker_image.py)"
export PA3_TEST_IMAGE=pa3-grader:test PA3_TEST_GRADESCOPE_BASE=pa3-base:bookworm PA3_TEST_TORCH_INDEX="$TORCH_INDEX"
export PA3_TEST_ARTIFACTS=${PA3_TEST_ARTIFACTS:-$(mktemp -d /tmp/pa3-docker-checks.XXXX)}
[ -f docker/site/ca.crt ] && export PA3_TEST_PIP_CERT="$PWD/docker/site/ca.crt"
status=0
nice "$PYTHON" -m pytest tests/test_docker_image.py -v -p no:cacheprovider "$@" || status=$?

say "Figures ($PA3_TEST_ARTIFACTS/figures.jsonl)"
cat "$PA3_TEST_ARTIFACTS/figures.jsonl" 2>/dev/null || true
echo "test-image.sh: exit $status after $(( $(date +%s) - started )) s"
exit "$status"
