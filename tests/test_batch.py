"""pa3 batch: a class of submissions to a gradebook, feedback pages and a summary, locally or on Dask."""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader import TEMPLATE_DIR, threads
from grader.batch.executors import LOCAL, ClusterCertificates, DaskCluster, InsecureCluster
from grader.batch.inputs import discover
from grader.batch.run import run_batch
from grader.batch.task import grade_one, pack_submission
from grader.options import BatchOptions, GradeOptions
from tests import corpus
from tests.test_grading_corpus import HOSTILE

OPTIONS = BatchOptions(GradeOptions(notebook=False), timeout=300)


def rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Path:
    """A folder of submissions as a TA collects them."""
    folder = tmp_path_factory.mktemp("class")
    corpus.zip_folder(corpus.build(folder / "src" / "ada"), folder / "ada.zip", inside="PA3", junk=True)
    shutil.copytree(TEMPLATE_DIR, folder / "bob")
    file, old, new, _ = corpus.MUTANTS["fc_forward_no_bias"]
    corpus.build(folder / "cleo", {file: [(old, new)]})
    corpus.build(folder / "dan", HOSTILE["os_exit_in_relu"])
    (folder / "eve.zip").write_bytes(b"this is not a zip")
    corpus.build(folder / "gus", drop=("model.py",))
    shutil.rmtree(folder / "src")
    return folder


def test_a_class_gives_the_expected_rows(classroom, tmp_path):
    outcome = run_batch(classroom, tmp_path / "out", workers=2, options=OPTIONS, show_progress=False)
    assert outcome.total == outcome.graded_now == 6
    table = rows(tmp_path / "out")
    assert table["ada"]["total"] == "104" and table["ada"]["status"] == "graded"
    assert table["ada"]["section_1.1"] == "74" and table["ada"]["section_1.2"] == "30"
    assert table["bob"]["total"] == "0" and table["bob"]["status"] == "graded"
    assert 0 < float(table["cleo"]["total"]) < 104
    assert 0 < float(table["dan"]["total"]) < 104 and table["dan"]["status"] == "graded"
    assert table["eve"]["status"] == "malformed" and "not a readable zip" in table["eve"]["message"]
    # graded (its tests fail), but named for the TA
    assert table["gus"]["status"] == "graded" and table["gus"]["message"] == "model.py is missing from the submission"
    assert table["gus"]["section_1.2"] == "0" and table["gus"]["section_1.1"] == "74"
    assert table["ada"]["message"] == "" and "PA3_qa.pdf is missing" in table["bob"]["message"]
    budget = threads.budget(threads.cores(), 2)
    for row in table.values():  # 2 workers share the cores; each grading's own CPU is recorded
        assert row["threads"] == str(budget) and float(row["cpu_seconds"]) > 0.2
    assert outcome.usage.cores == threads.cores() and outcome.usage.budgets == {budget: 6}
    assert outcome.usage.cpu_seconds >= sum(float(r["cpu_seconds"]) for r in table.values())
    assert 0 < outcome.usage.utilisation <= 1.05
    record = json.loads((tmp_path / "out" / "results" / "ada.json").read_text())["record"]
    assert record["extra"]["threads"]["budget"] == budget and record["extra"]["threads"]["numpy_worker"] == 1
    for sid in table:
        assert (tmp_path / "out" / "feedback" / f"{sid}.html").is_file()
        assert json.loads((tmp_path / "out" / "results" / f"{sid}.json").read_text())["id"] == sid
    summary = (tmp_path / "out" / "summary.html").read_text()
    assert summary.count("data:image/png;base64,") == 4 and "Pass rate per test" in summary
    # eve (not graded) and gus (model.py missing); bob's missing PA3_qa.pdf is no file this run grades
    assert "Needs a human (2)" in summary and "model.py is missing from the submission" in summary


def test_canvas_download_grades_the_newest_submission_per_student(tmp_path):
    folder = tmp_path / "canvas"
    folder.mkdir()
    file, old, new, _ = corpus.MUTANTS["ce_forward_sum"]
    first = corpus.build(tmp_path / "v1", {file: [(old, new)]})
    corpus.zip_folder(first, folder / "lovelaceada_1001_5001_PA3.zip")
    corpus.zip_folder(corpus.build(tmp_path / "v2"), folder / "lovelaceada_LATE_1001_5007_PA3-1.zip")
    corpus.zip_folder(first, folder / "turingalan_1002_5003_PA3.zip")
    found = {s.id: s for s in discover(folder)}
    assert set(found) == {"lovelaceada_1001", "turingalan_1002"}
    assert found["lovelaceada_1001"].path.name == "lovelaceada_LATE_1001_5007_PA3-1.zip"
    assert found["lovelaceada_1001"].late and found["lovelaceada_1001"].replaced == ["lovelaceada_1001_5001_PA3.zip"]
    run_batch(folder, tmp_path / "out", workers=2, options=OPTIONS, show_progress=False)
    table = rows(tmp_path / "out")
    assert table["lovelaceada_1001"]["total"] == "104" and table["lovelaceada_1001"]["late"] == "True"
    assert float(table["turingalan_1002"]["total"]) < 104


def test_gradescope_export_keeps_names_and_emails(tmp_path):
    folder = tmp_path / "export"
    corpus.build(folder / "submission_111")
    shutil.copytree(TEMPLATE_DIR, folder / "submission_222")
    (folder / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '1'\n    :email: ada@example.edu\n"
        "  - :name: Charles Babbage\n    :email: cb@example.edu\n  :score: 0\n"
        "submission_222:\n  :submitters:\n  - :name: Alan Turing\n    :email: alan@example.edu\n")
    found = {s.id: s for s in discover(folder)}
    assert found["submission_111"].names == ["Ada Lovelace", "Charles Babbage"]
    run_batch(folder, tmp_path / "out", workers=2, options=OPTIONS, show_progress=False)
    table = rows(tmp_path / "out")
    assert table["submission_111"]["names"] == "Ada Lovelace; Charles Babbage"
    assert table["submission_111"]["emails"] == "ada@example.edu; cb@example.edu"
    assert "Ada Lovelace" in (tmp_path / "out" / "feedback" / "submission_111.html").read_text()


def _start_batch(folder: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader.cli", "batch", str(folder), "--out", str(out),
                             "--no-notebook", "--workers", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_results(out: Path, count: int, proc: subprocess.Popen, limit: float = 120) -> None:
    start = time.monotonic()
    while len(list((out / "results").glob("*.json"))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < limit
        time.sleep(0.1)


@pytest.fixture(scope="module")
def six(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("six")
    for i in range(6):
        corpus.build(folder / f"s{i}")
    return folder


def test_killed_midway_then_resume_regrades_nothing_finished(six, tmp_path):
    out = tmp_path / "out"
    before_tmp = _leftover_batch_folders()
    proc = _start_batch(six, out)
    _wait_for_results(out, 2, proc)
    proc.kill()  # a crash: no chance to clean up
    proc.wait()
    _wait_until_no_grading_for(proc.pid)  # the gradings it started end with it
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert 2 <= len(before) < 6
    resumed = subprocess.run([sys.executable, "-m", "grader.cli", "batch", str(six), "--out", str(out),
                              "--no-notebook", "--workers", "2", "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{6 - len(before)} graded, {len(before)} already done (of 6)" in resumed.stdout
    assert "class: " in resumed.stdout and "CPU-s on" in resumed.stdout and "utilisation" in resumed.stdout
    after = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert len(after) == 6 and all(after[name] == stamp for name, stamp in before.items())
    assert all(row["total"] == "104" for row in rows(out).values())
    # what the killed batch left in the temporary folder was removed by the next one
    assert _leftover_batch_folders() <= before_tmp


def _leftover_batch_folders() -> set[Path]:
    """The batch folders in the temporary folder that no live batch owns (unnamed ones included)."""
    from grader.workspace import STALE, stale

    tmp = Path(tempfile.gettempdir())
    unnamed = {p for p in tmp.glob("pa3-batch-*") if not STALE.match(p.name)}
    return set(stale(tmp, "pa3-batch-")) | unnamed


HANGING = {"activations.py": [("return np.maximum(Z, 0.0)", "while True:\n            pass")]}  # every ReLU call hangs


def test_a_grading_ends_with_the_batch_that_started_it(tmp_path):
    """A batch killed outright (no chance to stop its gradings, each in its own session): every grading it
    started stops within seconds, cleaning up its workspace, instead of grading on unwatched."""
    import psutil

    hang = corpus.build(tmp_path / "hang", HANGING)
    starter = ("import os, subprocess, sys\n"
               "from grader.batch import lifeline\n"
               "p = subprocess.Popen([sys.executable, '-m', 'grader.cli', 'grade', sys.argv[1], '--no-notebook',"
               " '--quiet', '--deadline', '900'], env=os.environ | lifeline.environment(), start_new_session=True)\n"
               "print(p.pid, flush=True)\n"
               "p.wait()\n")
    batch = subprocess.Popen([sys.executable, "-c", starter, str(hang)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[1])
    grading = psutil.Process(int(batch.stdout.readline()))
    start = time.monotonic()
    while not (workspaces := list(Path(tempfile.gettempdir()).glob(f"pa3-grade-{grading.pid}-*"))):
        assert time.monotonic() - start < 120 and grading.is_running(), "the grading never made its workspace"
        time.sleep(0.1)
    time.sleep(2)  # under way: its worker is importing the hanging module
    batch.kill()
    batch.wait()
    try:
        grading.wait(timeout=60)  # a hanging submission's grading would take minutes
    except psutil.TimeoutExpired:
        grading.kill()
        pytest.fail("the grading went on after the batch that started it was killed")
    assert not any(w.exists() for w in workspaces)


def _gradings_for(batch: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"PA3_GRADING_FOR={batch}\0".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def _wait_until_no_grading_for(batch: int, limit: float = 60) -> None:
    start = time.monotonic()
    while _gradings_for(batch):
        assert time.monotonic() - start < limit, "gradings left running after their batch was killed"
        time.sleep(0.1)


def test_ctrl_c_keeps_finished_results_and_writes_the_reports(six, tmp_path):
    out = tmp_path / "out"
    proc = _start_batch(six, out)
    _wait_for_results(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in stderr
    done = list((out / "results").glob("*.json"))
    assert done and len(rows(out)) == len(done)  # grades.csv covers exactly what finished


def test_a_hanging_grading_is_stopped_with_a_status(tmp_path):
    folder = corpus.build(tmp_path / "hang", HANGING)
    start = time.monotonic()
    outcome = grade_one(pack_submission(folder), GradeOptions(notebook=False), timeout=3)
    # The grader's own deadline, derived from the timeout, usually stops it first and still writes results;
    # on a slow start the batch kills it at the timeout. Either way it ends, with a status.
    assert outcome["status"] == "timeout"
    assert "3 s" in outcome["message"] or "cut short by the time limit" in outcome["message"]
    assert time.monotonic() - start < 60  # stopped at 3 s; the margin only allows for a busy machine


def test_dask_cluster_gives_the_same_gradebook(classroom, tmp_path):
    """An existing cluster (tls://, as on other machines) reached with its certificate files."""
    from dask.distributed import LocalCluster
    from distributed.security import Security

    local_out, dask_out = tmp_path / "local", tmp_path / "dask"
    run_batch(classroom, local_out, workers=2, options=OPTIONS, show_progress=False)
    security = Security.temporary()
    files = {}
    for name, pem in (("ca", security.tls_ca_file), ("cert", security.tls_client_cert),
                      ("key", security.tls_client_key)):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text(pem)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tls",
                      security=security, dashboard_address=None) as cluster:
        outcome = run_batch(classroom, dask_out, scheduler=cluster.scheduler_address, options=OPTIONS,
                            show_progress=False, certificates=ClusterCertificates(**files))
    assert "Dask cluster at tls://127.0.0.1" in outcome.executor
    # two one-task workers on this machine share its cores, as the local pool of two does (compared below)
    assert {r["threads"] for r in rows(dask_out).values()} == {str(threads.budget(threads.cores(), 2))}

    def comparable(out):
        return {sid: {k: v for k, v in row.items() if k not in ("seconds", "cpu_seconds")}
                for sid, row in rows(out).items()}

    assert comparable(dask_out) == comparable(local_out)


def outsider_reaches(address: str, context: ssl.SSLContext | None) -> bool:
    """Whether an outsider gets an answer from the Dask server at ``address`` (scheduler, worker or nanny) to a
    call of its own (``identity``; ``run`` or ``submit`` go the same way), over plain TCP (``context`` None)
    or TLS with ``context``."""
    from distributed.core import rpc

    target = ("tls://" if context else "tcp://") + address.split("://", 1)[1]

    async def ask():
        server = rpc(target, connection_args={"ssl_context": context} if context else {}, timeout=10)
        try:
            return await asyncio.wait_for(server.identity(), 20)
        finally:
            await server.close_rpc()

    try:
        return bool(asyncio.run(ask()))
    except Exception:  # noqa: BLE001 - refused, reset, timed out: not reached
        return False


def outsider_contexts(tmp_path: Path) -> dict[str, ssl.SSLContext | None]:
    """How an outsider may try: plain TCP, TLS showing no certificate, TLS with a certificate of its own."""
    from distributed.security import Security

    own = Security.temporary()
    (tmp_path / "own.pem").write_text(own.tls_client_cert + own.tls_client_key)
    contexts: dict[str, ssl.SSLContext | None] = {"plain TCP": None}
    for name in ("TLS without a certificate", "TLS with its own certificate"):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # trusting any server
        if name.endswith("own certificate"):
            context.load_cert_chain(tmp_path / "own.pem")
        contexts[name] = context
    return contexts


def test_a_local_dask_cluster_refuses_whoever_lacks_its_certificate(classroom, tmp_path):
    """`--scheduler local`: the batch starts a cluster whose scheduler, workers and nannies talk TLS with a
    certificate made for it; nothing else on the machine (a sandboxed submission included) can call them."""
    from dask.distributed import LocalCluster

    contexts = outsider_contexts(tmp_path)
    # The outsider's calls work on a cluster without TLS (what --scheduler used to accept).
    with LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as open_cluster:
        assert outsider_reaches(open_cluster.scheduler_address, contexts["plain TCP"])
        assert outsider_reaches(next(iter(open_cluster.scheduler_info["workers"])), contexts["plain TCP"])
    executor = DaskCluster(LOCAL, workers=2)
    try:
        info = executor.client.scheduler_info()["workers"]
        addresses = [executor.address, *info, *(w["nanny"] for w in info.values() if w.get("nanny"))]
        assert len(addresses) == 5 and all(a.startswith("tls://127.0.0.1:") for a in addresses), addresses
        reached = [(a, how) for a in addresses for how, context in contexts.items() if outsider_reaches(a, context)]
        assert reached == []
        # The batch's own client grades through it.
        graded = {s.id: o for s, o in executor.run([s for s in discover(classroom) if s.id in ("ada", "bob")],
                                                    OPTIONS)}
        assert graded["ada"]["record"]["score"] == 104 and graded["bob"]["record"]["score"] == 0
    finally:
        executor.close()


def test_a_scheduler_without_tls_is_refused_with_a_message(classroom, tmp_path):
    for scheduler, certificates, said in [
            ("tcp://127.0.0.1:8786", None, "without TLS accepts work from anyone"),
            ("tls://127.0.0.1:8786", None, "the cluster's certificates are needed"),
            ("tls://127.0.0.1:8786", ClusterCertificates(tmp_path / "ca.pem", tmp_path / "me.pem"), "does not exist")]:
        with pytest.raises(InsecureCluster, match=said):
            run_batch(classroom, tmp_path / "out", scheduler=scheduler, options=OPTIONS, show_progress=False,
                      certificates=certificates)
    done = subprocess.run([sys.executable, "-m", "grader.cli", "batch", str(classroom), "--out", str(tmp_path / "o"),
                           "--scheduler", "tcp://127.0.0.1:8786"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "without TLS" in done.stderr and "Traceback" not in done.stderr


def test_cpu_seconds_include_a_killed_process_that_nobody_waited_for(tmp_path):
    """As a sandboxed kernel is: killed, never reaped by the grading, so only sampling sees its CPU."""
    from grader.batch.usage import TreeUsage

    marker = tmp_path / "burnt"
    script = f"""
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import pathlib, time
while time.process_time() < 1.0:
    pass
pathlib.Path({str(marker)!r}).touch()
time.sleep(60)
'''])
while not os.path.exists({str(marker)!r}):
    time.sleep(0.05)
time.sleep(1)  # it sleeps now, its CPU time fixed at 1 s; a kernel too lives a while after its last cell
os.kill(child.pid, signal.SIGKILL)
os._exit(0)
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    with TreeUsage(proc.pid, interval=0.05) as usage:
        proc.wait(timeout=120)
    assert 1.0 <= usage.cpu_seconds < 10
