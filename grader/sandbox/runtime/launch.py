"""Inside the sandbox: confine, apply resource limits and a clean environment, then exec a command.

    python -I launch.py CONFIG_JSON -- COMMAND ...

CONFIG_JSON is {"confine": {...see confine.apply...}, "limits": {...as worker.py...}, "env": {...}, "quiet": bool},
each key optional (no "env": the environment it was started with). isolation.wrap starts every sandboxed
program at the user and process levels through it with "confine" (started as root at the user level, it
drops to the sandbox uid itself, after the mount namespace); the notebook kernel's own settings come in a
second start of it. What confinement took is handed on in PA3_CONFINEMENT (JSON), for the start-up check.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import confine  # noqa: E402


def main():
    config = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    env = dict(config.get("env", os.environ))
    if "confine" in config:
        env["PA3_CONFINEMENT"] = json.dumps(confine.apply(config["confine"]))
    elif "PA3_CONFINEMENT" in os.environ:
        env["PA3_CONFINEMENT"] = os.environ["PA3_CONFINEMENT"]
    if config.get("limits"):
        from worker import apply_limits  # imports NumPy (the codec's): only where limits are set here

        apply_limits(config["limits"])
    if config.get("quiet"):  # the kernel's banner and logs; cell output travels over ZMQ, not these fds
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
