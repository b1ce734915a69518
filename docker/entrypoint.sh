#!/bin/sh
# The image's entry point: runs `pa3 ARGS...`. The grader runs as root (it drops student code to an
# unprivileged uid), so files it writes into a mounted /work would belong to root on the host; they
# are handed to the owner of /work (the TA who mounted it) when pa3 ends.
# Graders in different containers (and on the host) share the kernel's uids but not their lease locks: each
# container takes its own block of 256 sandbox uids, one of 4,096 at random, so that one never signals or
# shares a process limit with another's sandboxed code (PA3_SANDBOX_UIDS set by the caller wins).
if [ -z "${PA3_SANDBOX_UIDS:-}" ]; then
    block=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 4096 ))
    PA3_SANDBOX_UIDS="$(( 100000 + block * 256 ))-$(( 100255 + block * 256 ))"
    export PA3_SANDBOX_UIDS
fi
owner=$(stat -c %u:%g /work 2>/dev/null || echo 0:0)
if [ "$(id -u)" != 0 ] || [ "$owner" = 0:0 ]; then
    exec pa3 "$@"
fi
pa3 "$@" &
child=$!
# docker stop and Ctrl-C reach this shell (PID 1), not pa3: pass them on, then still fix ownership.
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break
done
find /work -xdev -user 0 -exec chown -h "$owner" {} + 2>/dev/null
exit "$status"
