"""Where grade_one runs: a local pool of grading processes, or a Dask distributed cluster.

Each plans the thread budget of its gradings (grader/threads.py): cores // gradings at once on a machine.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

from grader import threads
from grader.batch.inputs import Submission
from grader.batch.task import grade_one, kill_running, pack_submission
from grader.options import BatchOptions


class LocalPool:
    """``workers`` grading processes at a time on this machine (each grading is its own process)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.cores = threads.cores()
        self.description = f"local pool of {self.workers} grading processes"

    def run(self, submissions: Iterable[Submission], options: BatchOptions) -> Iterator[tuple[Submission, dict]]:
        grading = replace(options.grade, threads=threads.plan(options.threads, self.cores, self.workers))
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            futures = {pool.submit(grade_one, str(s.path), grading, options.timeout): s  # same machine: no packing
                       for s in submissions}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            kill_running()


def grade_on_worker(payload: bytes, options: BatchOptions, plan: dict[str, int | None],
                    name: str = "submission.zip") -> dict:
    """grade_one on a Dask worker, with its budget from the plan, or (a worker that joined later) from
    its own cores and the tasks it runs at once."""
    from dask.distributed import get_worker

    worker = get_worker()
    if worker.address in plan:
        budget = plan[worker.address]
    else:
        budget = threads.plan(options.threads, threads.cores(), getattr(worker, "state", worker).nthreads)
    return grade_one(payload, replace(options.grade, threads=budget), options.timeout, name)


def dask_plan(setting, workers: dict[str, dict], cores: dict[str, int]) -> dict[str, int | None]:
    """{worker address: budget}: a machine's cores shared by every task its workers run at once.

    ``workers``: the scheduler's view ({address: {"host", "nthreads", ...}}); ``cores``: {address: cores}.
    """
    tasks_on_host = Counter()
    for info in workers.values():
        tasks_on_host[info["host"]] += info["nthreads"]
    return {address: threads.plan(setting, cores.get(address, 1), tasks_on_host[info["host"]])
            for address, info in workers.items()}


LOCAL = "local"  # --scheduler local: a Dask cluster on this machine, started (with its own certificate) by the batch


@dataclass(frozen=True)
class ClusterCertificates:
    """Files of a remote cluster's TLS security: the CA that signed its certificates and this client's own
    certificate and key (the key may be inside the certificate file). Keep them readable by the TA only."""

    ca: Path | None
    cert: Path | None
    key: Path | None = None


class InsecureCluster(ValueError):
    """A Dask scheduler that anyone on the network could submit work to: refused."""


def client_security(scheduler: str, certificates: ClusterCertificates | None):
    """The Security a client of ``scheduler`` connects with: the files given, or Dask's own TLS configuration
    (``distributed.comm.tls``); a scheduler that is not ``tls://`` or a missing certificate is refused."""
    from distributed.security import Security

    if not scheduler.startswith("tls://"):
        raise InsecureCluster(
            f"--scheduler {scheduler}: a Dask cluster without TLS accepts work from anyone who reaches it, student "
            "code included; start it with TLS certificates and pass tls://HOST:PORT with --tls-ca, --tls-cert and "
            "--tls-key, or use --scheduler local")
    if certificates is not None:
        if not (certificates.ca and certificates.cert):
            raise InsecureCluster(f"--scheduler {scheduler}: both --tls-ca and --tls-cert are needed")
        for path in filter(None, (certificates.ca, certificates.cert, certificates.key)):
            if not Path(path).is_file():
                raise InsecureCluster(f"--scheduler {scheduler}: the certificate file {path} does not exist")
        return Security(tls_ca_file=str(certificates.ca), tls_client_cert=str(certificates.cert),
                        tls_client_key=str(certificates.key) if certificates.key else None, require_encryption=True)
    security = Security(require_encryption=True)  # Dask's configuration: distributed.comm.tls.*
    if not (security.tls_ca_file and security.tls_client_cert):
        raise InsecureCluster(f"--scheduler {scheduler}: the cluster's certificates are needed: --tls-ca, --tls-cert "
                              "and --tls-key (or Dask's distributed.comm.tls configuration)")
    return security


def start_local_cluster(workers: int):
    """A Dask cluster on this machine that only this batch can use: TLS with a certificate made for it alone
    (kept in memory, handed to its workers over their start-up pipes), clients and workers alike required to
    present it; listening on 127.0.0.1 only, with no HTTP pages (dashboard, logs, call stacks) served."""
    import dask
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                               protocol="tls", security=security, dashboard_address=None)
    return cluster, security


class DaskCluster:
    """A Dask distributed cluster reached over TLS: one this batch starts here (``--scheduler local``) or an
    existing one (``tls://host:8786`` with its certificates); the grader must be installed on its workers."""

    def __init__(self, scheduler: str, certificates: ClusterCertificates | None = None, workers: int = 2) -> None:
        from dask.distributed import Client

        self.cluster = None
        if scheduler == LOCAL:
            self.cluster, security = start_local_cluster(workers)
            scheduler = self.cluster.scheduler_address
        else:
            security = client_security(scheduler, certificates)
        self.address = scheduler
        try:
            self.client = Client(scheduler, timeout="30s", security=security)
        except BaseException:
            self.close()
            raise
        where = "local Dask cluster" if self.cluster is not None else "Dask cluster"
        self.description = f"{where} at {scheduler} ({len(self.client.scheduler_info()['workers'])} workers)"

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def plan(self, setting) -> dict[str, int | None]:
        return dask_plan(setting, self.client.scheduler_info()["workers"], self.client.run(threads.cores))

    def run(self, submissions: Iterable[Submission], options: BatchOptions) -> Iterator[tuple[Submission, dict]]:
        from dask.distributed import as_completed

        plan = self.plan(options.threads)
        by_key = {}
        for s in submissions:
            name = s.path.name if s.path.is_file() else f"{s.path.name}.zip"
            future = self.client.submit(grade_on_worker, pack_submission(s.path), options, plan, name, pure=False,
                                        key=f"pa3-{s.id}")
            by_key[future.key] = (future, s)
        try:
            for future in as_completed([f for f, _ in by_key.values()]):
                yield by_key[future.key][1], future.result()
        finally:
            for future, _ in by_key.values():
                future.cancel()
            self.close()
