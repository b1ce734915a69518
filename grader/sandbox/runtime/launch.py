"""Inside the sandbox: apply resource limits and a clean environment, then exec a command.

    python -I launch.py CONFIG_JSON -- COMMAND ...

CONFIG_JSON is {"limits": {...as worker.py...}, "env": {...}, "quiet": bool}. Used to start the notebook kernel.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker import apply_limits  # noqa: E402


def main():
    config = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    apply_limits(config["limits"])
    if config.get("quiet"):  # the kernel's banner and logs; cell output travels over ZMQ, not these fds
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    os.execvpe(command[0], command, config["env"])


if __name__ == "__main__":
    main()
