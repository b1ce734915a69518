"""`pa3 batch`: grade a class, writing each result the moment it is done."""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from grader import atomic
from grader.batch import grades
from grader.batch.executors import ClusterCertificates, DaskCluster, LocalPool
from grader.batch.inputs import Submission, discover
from grader.options import BatchOptions
from grader.render import class_summary
from grader.render.feedback_html import render
from grader.render.inert import CSP_META
from grader.results import GradeResult, write_atomic


@dataclass
class ClassUsage:
    """What grading this run's submissions cost: wall time, CPU seconds of every grading's process tree
    (and of this coordinator), the cores of the machines that graded, how busy those cores were."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    cores: int = 0
    budgets: dict = field(default_factory=dict)  # thread budget -> gradings that had it

    @property
    def utilisation(self) -> float:
        return self.cpu_seconds / (self.wall_seconds * self.cores) if self.wall_seconds and self.cores else 0.0

    def describe(self) -> str:
        budgets = ", ".join(f"{'torch default' if b is None else b} for {n}" for b, n in self.budgets.items())
        return (f"{self.wall_seconds:.1f} s wall, {self.cpu_seconds:.1f} CPU-s on {self.cores} cores "
                f"({100 * self.utilisation:.0f}% utilisation)"
                + (f"; threads per grading: {budgets}" if budgets else ""))


@dataclass
class BatchOutcome:
    total: int
    graded_now: int
    skipped: int
    out: Path
    executor: str
    usage: ClassUsage = field(default_factory=ClassUsage)


def finished(out: Path, submission: Submission) -> bool:
    path = out / "results" / f"{submission.id}.json"
    try:
        return json.loads(path.read_text()).get("status") is not None
    except (OSError, ValueError):
        return False


def _score(path: Path) -> float | None:
    """The score an earlier run of this batch gave (None when there was none)."""
    try:
        return (json.loads(path.read_text()).get("record") or {}).get("score")
    except (OSError, ValueError, AttributeError):
        return None


def save(out: Path, submission: Submission, outcome: dict) -> None:
    """results/<id>.json and feedback/<id>.html, each written atomically."""
    row = {"id": submission.id, "names": submission.names, "emails": submission.emails, "late": submission.late,
           "replaced": submission.replaced, "source": submission.path.name, **outcome}
    before = _score(out / "results" / f"{submission.id}.json")
    after = (outcome.get("record") or {}).get("score")
    if before is not None and after is not None and before != after:  # a regrade that changed the grade
        row["regrade"] = {"before": before, "after": after}
    write_atomic(out / "results" / f"{submission.id}.json", row)
    if outcome.get("record"):
        page = render(GradeResult.from_dict(outcome["record"]), title=f"PA3 feedback: {submission.id}",
                      students=submission.names)
    else:
        page = (f"<!doctype html><html><head><meta charset='utf-8'>{CSP_META}</head><body>"
                f"<h1>PA3 feedback: {html.escape(submission.id)}</h1><p>Not graded: {html.escape(outcome['status'])}. "
                f"{html.escape(str(outcome.get('message', '')))}</p></body></html>")
    target = out / "feedback" / f"{submission.id}.html"
    atomic.write_text(target, page)


def run_batch(input_dir: Path, out: Path, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, options: BatchOptions | None = None, show_progress: bool = True,
              certificates: ClusterCertificates | None = None, similarity: bool = False,
              archives: list[Path] = ()) -> BatchOutcome:
    """Grade every submission found in ``input_dir`` (not yet graded, with ``resume``) into ``out``, with
    ``options`` (default: BatchOptions()), on a local pool of ``workers`` or the Dask ``scheduler`` over TLS
    ("local": a cluster of ``workers`` started here; "tls://host:port": an existing one, with ``certificates``);
    with ``similarity``, then compare the class's code (and with ``archives``) into out/similarity.*, whose
    flagged pairs summary.html lists."""
    out = Path(out)
    for folder in ("results", "feedback"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    submissions = discover(input_dir)
    todo = [s for s in submissions if not (resume and finished(out, s))]
    executor = (DaskCluster(scheduler, certificates, workers or os.cpu_count() or 1) if scheduler
                else LocalPool(workers or os.cpu_count() or 1))
    graded, hosts = 0, {}
    usage = ClassUsage()
    start, own_cpu = time.monotonic(), time.process_time()
    columns = (TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.description}"))
    try:
        with Progress(*columns, disable=not show_progress) as progress:
            task = progress.add_task("", total=len(todo))
            for submission, outcome in executor.run(todo, options or BatchOptions()):
                save(out, submission, outcome)
                graded += 1
                usage.cpu_seconds += float(outcome.get("cpu_seconds") or 0)
                hosts[outcome.get("host")] = int(outcome.get("cores") or 0)
                usage.budgets[outcome.get("threads")] = usage.budgets.get(outcome.get("threads"), 0) + 1
                progress.update(task, advance=1, description=f"{submission.id}: {outcome['status']}")
        if similarity:
            from grader.similarity.run import run_similarity

            run_similarity(input_dir, out, list(archives))
    finally:  # also after Ctrl-C: the reports cover everything finished so far
        usage.wall_seconds = time.monotonic() - start
        usage.cpu_seconds += time.process_time() - own_cpu
        usage.cores = sum(hosts.values()) or getattr(executor, "cores", 0)
        ids = {s.id for s in submissions}
        rows = [r for r in grades.load_results(out) if r.get("id") in ids]
        grades.write_csv(out, rows)
        class_summary.write_summary(out, rows, usage=usage.describe() if graded else None)
    return BatchOutcome(len(submissions), graded, len(submissions) - len(todo), out, executor.description, usage)
