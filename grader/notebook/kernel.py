"""A Jupyter kernel started inside the sandbox, reached over ZMQ ipc:// sockets in a bind-mounted folder
(the kernel has no network namespace to share with the grader).

Its life as a sandboxed process (folders handed to its uid, its cgroup, the kill of everything it
started) is grader/sandbox/process.py's, as for the NumPy worker; what is here is Jupyter's part:
the kernel spec, the connection file, the sockets' folder and the kernel's environment.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager

from grader import threads as thread_budget
from grader.fstree import remove_tree
from grader.notebook import resources
from grader.sandbox import isolation, memcg, scratch
from grader.sandbox.isolation import Mount
from grader.sandbox.limits import Limits
from grader.sandbox.process import SandboxedProcess

KERNEL_LIMITS = Limits(address_space=8 << 30, cpu_seconds=3600, file_size=256 << 20, processes=512, open_files=1024,
                       tmp_bytes=512 << 20, shm_bytes=1 << 30,  # tmpfs sizes under bwrap (DataLoader workers use shm)
                       work_bytes=1 << 30, work_files=20000)
MESSAGE_BYTES = 32 << 20  # one ZMQ message from the kernel larger than this is dropped by the socket itself
WATCH_INTERVAL = 0.1  # s between checks of what the kernel wrote, outside bwrap (as for the NumPy worker)
KERNEL_NAME = "pa3-sandbox"
IPC_PATH_MAX = 100  # sun_path holds 108 bytes with its NUL; deep workspaces move the sockets to a short folder


class _Manager(AsyncKernelManager):
    """Hands the connection file to the sandbox uid (jupyter writes it 0600).

    Asynchronous, as nbclient expects: a blocking manager would stall its event loop, and with it
    the cell timeout and the total budget.
    """

    owner: int | None = None

    def client(self, **kwargs):
        """A client whose sockets refuse any one message over MESSAGE_BYTES (a 400 MB print): the socket drops
        it before it is read into the grader's memory, and reconnects."""
        import zmq
        import zmq.asyncio

        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_BYTES)
        client = super().client(context=context, **kwargs)
        client._created_context = True  # destroyed with the client's channels
        return client

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.owner is not None:
            os.chown(self.connection_file, self.owner, self.owner)


DEVICES = "CPU only (CUDA hidden from the kernel at every isolation level)"


def link_data_beside(work: Path, visible_root: str) -> None:
    """``data/FashionMNIST`` beside the notebook, so the starter's default root ("data", "./data") finds the files.

    A symbolic link to the path the kernel sees: under bwrap the read-only mount, elsewhere the grader's copy.
    """
    link = work / "data" / "FashionMNIST"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists() and not link.is_symlink():
        link.symlink_to(f"{visible_root}/FashionMNIST", target_is_directory=True)


def short_folder() -> Path:
    """A private folder with a short path for the kernel's sockets (the first system temp folder that takes one)."""
    for base in ("/tmp", "/dev/shm", "/var/tmp", "/run"):
        try:
            return Path(tempfile.mkdtemp(prefix="pa3-kernel-", dir=base))
        except OSError:  # full, or not writable here
            continue
    raise OSError("no short temporary folder for the notebook kernel's sockets")


class SandboxedKernel:
    """``manager`` is a KernelManager whose kernel runs at ``level`` with the given folders visible.

    Folders: ``work`` (the notebook's private working copy, writable), ``data`` (FashionMNIST root,
    read-only, exposed as PA3_DATA_DIR), ``export`` (where the export cell writes, writable).
    ``threads``: the grading's thread budget (grader/threads.py), or None for torch's own default.
    """

    def __init__(self, level: str, work: Path, data: Path | None, export: Path, scratch: Path,
                 limits: Limits = KERNEL_LIMITS, threads: int | None = None) -> None:
        self.level = level
        if not limits.memory:  # over its whole tree, tmpfs pages included; within what the container leaves
            limits = replace(limits, memory=resources.kernel_memory())
        self.limits = limits
        # Made first: it notes the grader's children now, never taken for the kernel's orphans. The grader is
        # not made a subreaper for it (jupyter_client starts it).
        self.process = SandboxedProcess(level, limits, memory_cgroup=True, subreaper=False)
        self.container = memcg.own_cgroup()
        self.container_kills = memcg.read_events(self.container).get("oom_kill", 0) if self.container else 0
        self.work, self.since, self.over_budget = work, time.time() - 1, None
        self._original = set(os.listdir(work))
        self._stop_watch = threading.Event()
        self._watch: threading.Thread | None = None
        # The memory cgroup's peak and limit (bytes), known once the kernel is closed (None: no cgroup here).
        self.peak: int | None = None
        self.memory_limit: int | None = None
        # Under bwrap the working copy is a sized tmpfs: what the notebook saves there never reaches the host.
        self.mounts = {"work": Mount(work, "/notebook", True, private=True), "export": Mount(export, "/export", True)}
        if data is not None:
            self.mounts["data"] = Mount(data, "/data", False)
        conn = scratch / "kernel"
        self.short_conn = None
        if len(str(conn / "kernel-99999")) > IPC_PATH_MAX:  # a ZMQ ipc:// socket path must fit sun_path
            conn = self.short_conn = short_folder()
        conn.mkdir(parents=True, exist_ok=True)
        runtime = isolation.WORKER_IN_SANDBOX if level == "bwrap" else str(isolation.RUNTIME_DIR)
        # No MPLBACKEND (ipykernel's inline backend captures the figures); torch's own thread count
        # unless the batch plan gives a budget. Students never share a /tmp (private TMPDIR and HOME), and
        # the kernel's own settings live beside its connection file, so a full /tmp cannot stop it starting.
        tmp = isolation.private_tmp(level, work) if level != "none" else {}
        env = isolation.scrubbed_env() | {"HOME": str(conn)} | tmp | {
            "IPYTHONDIR": str(conn / "ipython"), "MPLCONFIGDIR": str(conn / "matplotlib"),
            # The same devices at every level (none: no GPU), and the stand-in google.colab for Colab notebooks.
            "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": f"{runtime}/colab"}
        env |= thread_budget.environment(threads)
        if data is not None:
            env["PA3_DATA_DIR"] = self.visible("data")
            link_data_beside(work, self.visible("data"))
        config = json.dumps({"limits": limits.rlimits(), "env": env, "quiet": True})
        kernel = [isolation.interpreter(), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        if level == "none":
            argv, self.description, owner = kernel, isolation.describe(level), None
        else:
            program = [isolation.interpreter(), "-I", f"{runtime}/launch.py", config, "--", *kernel]
            mounts = [*self.mounts.values(), Mount(conn, str(conn), True)]
            # jupyter_client starts it, so the uid is dropped by setpriv in the argv, after the cgroup join.
            spec = isolation.wrap(level, program, mounts, self.mounts["work"], drop_in_argv=True, limits=limits)
            owner = spec.drop_uid
            self.process.hand_over(spec, [work, export, conn])
            argv = self.process.command(spec)
            self.description = spec.description
        specs = scratch / "kernelspecs"
        (specs / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
        # At the sandboxed levels launch.py sets the whole environment; unsandboxed, jupyter_client
        # merges this one into the grader's own.
        spec_env = env if level == "none" else {}
        (specs / KERNEL_NAME / "kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": "PA3 sandbox", "language": "python", "env": spec_env}))
        self.manager = _Manager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(conn / "kernel"),
                                connection_file=str(conn / "kernel.json"),
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
        self.manager.owner = owner

    def visible(self, name: str) -> str:
        return self.mounts[name].visible(self.level)

    def watch(self) -> None:
        """Outside bwrap (whose tmpfs sizes bound it), check every WATCH_INTERVAL what the kernel wrote to its
        working copy, its private temporary folder and, as its own uid, the shared temporary folders; past
        the budget the kernel is killed (nbclient then sees it die) and ``over_budget`` says why."""
        if self.level in ("bwrap", "none") or self._watch is not None:
            return
        self._watch = threading.Thread(target=self._watch_loop, daemon=True, name="pa3-kernel-watch")
        self._watch.start()

    def _watch_loop(self) -> None:
        cap = self.limits.work_files
        while not self._stop_watch.wait(WATCH_INTERVAL):
            used = entries = 0
            roots = [os.path.join(self.work, name) for name in os.listdir(self.work) if name not in self._original]
            if self.process.uid is not None and self.level == "user":
                roots += scratch.owned_entries(self.process.uid, self.since)
            for root in roots:
                try:
                    more = scratch.measure(root, cap) if os.path.isdir(root) and not os.path.islink(root) \
                        else (os.lstat(root).st_blocks * 512, 0)
                except OSError:
                    continue
                used, entries = used + more[0], entries + more[1] + 1
            if used > self.limits.work_bytes or entries > cap:
                self.over_budget = (f"stopped by the grader: the notebook wrote {used >> 20} MB in {entries} files "
                                    f"and folders; at most {self.limits.work_bytes >> 20} MB in {cap} entries are "
                                    f"allowed (its working copy, /tmp and /dev/shm together)")
                self.process.kill()
                return

    def facts(self) -> resources.Facts:
        """What is known about the kernel's end, read before ``close`` removes its cgroups."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        memory = self.process.memcg
        container = memcg.read_events(self.container) if self.container else {}
        pids = self.process.cgroup
        return resources.Facts(
            exit_code=code, kernel_limit=memory.limit if memory else None,
            kernel_events=memory.events() if memory else {}, container_limit=resources.container_limit(),
            container_kills=max(0, container.get("oom_kill", 0) - self.container_kills),
            process_limit=self.limits.processes, process_limit_hit=bool(pids and pids.limit_hit()),
            shm=None if self.level == "bwrap" else resources.shm_size(), over_budget=self.over_budget)

    def close(self) -> None:
        """Stop the kernel and everything it started (nbclient has already asked it to shut down)."""
        self._stop_watch.set()
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        if process is not None:  # jupyter_client started it and keeps its Popen: killed here, collected there
            self.process.adopt(process.pid)
        if self.process.memcg is not None:  # read before the kill removes the cgroup
            self.peak, self.memory_limit = self.process.memcg.peak(), self.process.memcg.limit
        self.process.kill()
        if self.short_conn is not None:
            remove_tree(self.short_conn)
            self.short_conn = None
