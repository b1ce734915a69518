"""The ``pa3`` command line: one subcommand per user task, each a thin call into its module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import REFERENCE_DIR, TEMPLATE_DIR
from grader.budget import NUMPY_BUDGET
from grader.options import ISOLATION_CHOICES


def _template(args: argparse.Namespace) -> int:
    from grader.builders import template

    if args.check:
        problems = template.differences(args.reference, args.out)
        for problem in problems:
            print(f"out of sync: {problem}", file=sys.stderr)
        if problems:
            print("Run `pa3 template` to regenerate student_template/ from reference/.", file=sys.stderr)
            return 1
        print(f"{args.out} is in sync with {args.reference}")
        return 0
    written = template.write(args.reference, args.out)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from grader import fashion_data

    if args.action == "synth":
        raw = fashion_data.synth(args.out, args.train, args.test, args.seed)
    elif args.action == "prepare":
        raw = fashion_data.prepare(args.source, args.out)
    else:
        raw = fashion_data.download(args.out)
    print(f"FashionMNIST idx files in {raw}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from grader.batch import lifeline
    from grader.grade import grade
    from grader.options import GradeOptions
    from grader.render.terminal import print_report
    from grader.results import write_results
    from grader.sandbox.errors import IsolationUnavailable

    lifeline.follow()  # started by a batch: ends (cleaning up) if the batch is killed
    options = GradeOptions.from_environment(
        isolation=args.isolation, notebook=not args.no_notebook, deadline=args.deadline, data_dir=args.data_dir,
        numpy_budget=args.section1_budget, threshold=args.accuracy_threshold, threads=args.threads)
    try:
        result = grade(args.submission, options)
    except IsolationUnavailable as exc:
        print(f"pa3 grade: {exc}", file=sys.stderr)
        if args.results:  # a results file all the same, saying why nothing was graded
            from grader.results import not_graded

            write_results(args.results, not_graded(f"not graded: {exc}", 0.0))
        return 2
    except KeyboardInterrupt:  # Ctrl-C, or the batch that started it was killed: cleaned up on the way here
        print("pa3 grade: interrupted; nothing was written", file=sys.stderr)
        return 130
    if args.results:
        write_results(args.results, result)
        from grader.notebook.keep import keep

        # Only now, within what is left of the deadline: the executed notebook beside the results.
        for note in keep(result.executed_notebook, args.results.parent, result.deadline_at):
            print(f"pa3 grade: {note}", file=sys.stderr)
    if args.record:
        from grader.results import write_atomic

        write_atomic(args.record, result.to_dict())
    if not args.quiet:
        print_report(result)
        if options.notebook and options.data_dir is None:  # said once, after the report, where it is read
            print("Section 2 was not graded: no FashionMNIST data. Give it data with --data-dir DIR (or "
                  "PA3_FMNIST_DIR), or make a small synthetic set: pa3 data synth --out DIR (see the README's "
                  "quick start); --no-notebook grades Sections 1.1 and 1.2 only.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from grader.demo import DEMO_THRESHOLD, demo_data, explain

    root = demo_data(args.out)
    results = args.out / "results.json"
    print(f"grading the course solution on a synthetic set in {root}: a few minutes", flush=True)
    status = main(["grade", str(args.reference), "--data-dir", str(root), "--accuracy-threshold", str(DEMO_THRESHOLD),
                   "--results", str(results)])
    print(explain(root, results))
    return status


def _check(args: argparse.Namespace) -> int:
    from grader.selfcheck import run

    folder, names = args.folder, list(args.members)
    looks_like_a_path = names and ("/" in names[0] or "\\" in names[0] or names[0] in (".", ".."))
    # `pa3 check FOLDER [MEMBER ...]`
    if args.folder is None and names and (Path(names[0]).is_dir() or looks_like_a_path):
        folder, names = Path(names[0]), names[1:]
    status, result = run(names, folder or Path("."), notebook=args.notebook, data_dir=args.data_dir,
                         isolation=args.isolation)
    if args.record and result is not None:
        from grader.results import write_atomic

        write_atomic(args.record, result.to_dict())
    return status


def _pack(args: argparse.Namespace) -> int:
    from grader.pack import pack

    report = pack(args.folder, args.out)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.archive is None:
        print("PA3.zip was not written: fix the errors above and run `pa3 pack` again.", file=sys.stderr)
        return 1
    print(f"wrote {report.archive} with {', '.join(report.packed)}")
    return 0


def _build(args: argparse.Namespace) -> int:
    if args.what == "student":
        from grader.builders.student_bundle import build

        print(f"student bundle: {build(args.out, make_zip=args.zip)}")
        return 0
    from grader.builders.gradescope_zip import SETTINGS, build

    print(f"autograder: {build(args.out)}")
    print(SETTINGS)
    return 0


def _batch(args: argparse.Namespace) -> int:
    from grader.batch.run import run_batch
    from grader.options import BatchOptions, GradeOptions

    # The environment is left to each grading process (its `pa3 grade` reads it), as it was before batch.
    grading = GradeOptions(isolation=args.isolation, notebook=not args.no_notebook, deadline=args.deadline,
                           data_dir=args.data_dir.resolve() if args.data_dir else None,
                           threshold=args.accuracy_threshold)
    options = BatchOptions(grading, timeout=args.timeout, threads=args.threads)
    from grader.batch.executors import ClusterCertificates, InsecureCluster

    given = (args.tls_ca, args.tls_cert, args.tls_key)
    certificates = ClusterCertificates(*given) if any(given) else None
    if _missing_folders("batch", [args.input, *(args.archive or [])]):
        return 2
    try:
        outcome = run_batch(args.input, args.out, args.workers, args.scheduler, args.resume, options,
                            certificates=certificates, similarity=args.similarity or bool(args.archive),
                            archives=args.archive or [])
    except InsecureCluster as exc:
        print(f"pa3 batch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; run again with --resume", file=sys.stderr)
        return 130
    print(f"{outcome.graded_now} graded, {outcome.skipped} already done (of {outcome.total}) on "
          f"{outcome.executor}; see {outcome.out / 'grades.csv'} and {outcome.out / 'summary.html'}")
    if outcome.graded_now:
        print(f"class: {outcome.usage.describe()}")
    return 0


def _missing_folders(command: str, folders: list[Path]) -> bool:
    """Say which of ``folders`` (the class, archives) is not a folder, before anything runs."""
    missing = [f for f in folders if not f.is_dir()]
    for folder in missing:
        print(f"pa3 {command}: {folder} is not a folder of submissions", file=sys.stderr)
    return bool(missing)


def _similarity(args: argparse.Namespace) -> int:
    from grader.similarity.run import run_similarity

    if _missing_folders("similarity", [args.input, *(args.archive or [])]):
        return 2
    outcome = run_similarity(args.input, args.out, args.archive or [])
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    for match in outcome.flagged[:20]:
        print(f"flagged: {match.a} and {match.b} (score {match.score:g})")
    if len(outcome.flagged) > 20:
        print(f"... and {len(outcome.flagged) - 20} more flagged pairs")
    print(f"{len(outcome.pairs)} pairs compared, {len(outcome.flagged)} flagged; see {args.out / 'similarity.html'} "
          f"and {args.out / 'similarity.json'}")
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text!r}")
    return int(text)


def _thread_setting(text: str) -> str | int:
    return text if text in ("auto", "all") else _positive(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pa3", description="PA3 autograder and self-check")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("template", help="generate student_template/ from reference/ (or --check it)")
    p.add_argument("--check", action="store_true", help="exit 1 when the committed template is out of sync")
    p.add_argument("--reference", type=Path, default=REFERENCE_DIR)
    p.add_argument("--out", type=Path, default=TEMPLATE_DIR)
    p.set_defaults(func=_template)

    p = sub.add_parser("data", help="FashionMNIST roots for torchvision")
    data = p.add_subparsers(dest="action", required=True)
    s = data.add_parser("synth", help="write a synthetic FashionMNIST-format set")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--train", type=int, default=6000)
    s.add_argument("--test", type=int, default=2000)
    s.add_argument("--seed", type=int, default=0)
    s = data.add_parser("prepare", help="lay out real idx files (gz or raw) for torchvision")
    s.add_argument("--from", dest="source", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s = data.add_parser("download", help="fetch the real set with torchvision (needs a network)")
    s.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_data)

    p = sub.add_parser("grade", help="grade one submission (folder or PA3.zip)")
    p.add_argument("submission", type=Path)
    p.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    p.add_argument("--no-notebook", action="store_true", help="grade Sections 1.1 and 1.2 only")
    p.add_argument("--isolation", default="auto", choices=ISOLATION_CHOICES,
                   help="sandbox level (default: the strongest available; none is for benchmarks only)")
    p.add_argument("--deadline", type=float,
                   help="seconds after which nothing more runs (default: derived from pa3 batch's default timeout)")
    p.add_argument("--data-dir", type=Path, help="FashionMNIST idx files (gz or raw) or a torchvision root")
    p.add_argument("--section1-budget", type=float, default=NUMPY_BUDGET,
                   help="seconds for Sections 1.1 and 1.2 together; later tests fail at once "
                        f"(default {NUMPY_BUDGET:g})")
    p.add_argument("--accuracy-threshold", type=float, default=0.82,
                   help="Section 2 validation accuracy to pass (the rubric's 0.82; lower only for small test data)")
    p.add_argument("--threads", type=_positive, help="thread budget of the notebook's kernel and evaluator "
                   "(pa3 batch sets cores // workers; default: torch's own, every core)")
    p.add_argument("--record", type=Path, help="also write the full result record as JSON (used by pa3 batch)")
    p.add_argument("--quiet", action="store_true", help="no terminal report")
    p.set_defaults(func=_grade)

    p = sub.add_parser("batch", help="grade a class: gradebook CSV, feedback pages, summary plots")
    p.add_argument("input", type=Path, help="folder of zips/folders, a Gradescope export or a Canvas/Quercus download")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, help="local grading processes at once (default: CPU count)")
    p.add_argument("--scheduler", help="grade on a Dask cluster over TLS: 'local' (started here with --workers "
                   "workers and a certificate of its own) or tls://host:8786 with the cluster's certificates")
    p.add_argument("--tls-ca", type=Path, help="the Dask cluster's CA certificate (PEM)")
    p.add_argument("--tls-cert", type=Path, help="this client's certificate for the Dask cluster (PEM)")
    p.add_argument("--tls-key", type=Path, help="this client's private key (PEM), if not in --tls-cert")
    p.add_argument("--resume", action="store_true", help="grade only submissions without a result in OUT/results")
    p.add_argument("--no-notebook", action="store_true")
    p.add_argument("--data-dir", type=Path, help="FashionMNIST for the notebooks (same path on every worker)")
    p.add_argument("--isolation", default="auto", choices=ISOLATION_CHOICES)
    p.add_argument("--deadline", type=float,
                   help="per submission: seconds after which nothing more runs (at most, and by default, "
                        "--timeout less a reserve to write the results)")
    p.add_argument("--timeout", type=float, default=3600, help="per submission: kill the grading after this")
    p.add_argument("--accuracy-threshold", type=float, default=0.82)
    p.add_argument("--threads", type=_thread_setting, default="auto",
                   help="torch/OpenMP/BLAS threads per grading: auto (cores // gradings at once, the default), "
                        "all (torch's default: every core in every grading) or a number")
    p.add_argument("--similarity", action="store_true",
                   help="also compare the class's code (OUT/similarity.html); flagged pairs join the summary")
    p.add_argument("--archive", type=Path, nargs="+", metavar="DIR",
                   help="with --similarity: earlier terms' submissions, compared with this class only")
    p.set_defaults(func=_batch)

    p = sub.add_parser("similarity", help="rank pairs of submissions by shared code (starter code removed)")
    p.add_argument("input", type=Path, help="the class: any layout pa3 batch reads")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/similarity.json and OUT/similarity.html")
    p.add_argument("--archive", type=Path, nargs="+", metavar="DIR",
                   help="earlier terms' submissions: compared with this class, not with each other")
    p.set_defaults(func=_similarity)

    p = sub.add_parser("demo", help="a first run: grade the course solution, every section, on a synthetic set "
                       "made here (nothing downloaded)")
    p.add_argument("--out", type=Path, default=Path("pa3-demo"), help="where the set and results go (./pa3-demo)")
    p.add_argument("--reference", type=Path, default=REFERENCE_DIR, help=argparse.SUPPRESS)
    p.set_defaults(func=_demo)

    p = sub.add_parser("check", help="self-check: the visible tests on your files (or on the members named)")
    p.add_argument("members", nargs="*", metavar="MEMBER",
                   help="check only these, e.g. relu, ReLU.backward, softmax, layer, loss, model.predict, notebook "
                        "(a folder first checks that folder instead of the current one)")
    p.add_argument("--folder", type=Path, help="the folder with your files (default: the current one)")
    p.add_argument("--record", type=Path, help="also write the full result as JSON")
    p.add_argument("--notebook", action="store_true", help="also run PA3.ipynb with your own data folder")
    p.add_argument("--data-dir", type=Path, help="FashionMNIST folder for --notebook (default: PA3_DATA_DIR or ./data)")
    p.add_argument("--isolation", default="auto", choices=ISOLATION_CHOICES)
    p.set_defaults(func=_check)

    p = sub.add_parser("pack", help="check file names and write PA3.zip")
    p.add_argument("folder", type=Path, nargs="?", default=Path("."))
    p.add_argument("--out", type=Path, help="where to write the zip (default: FOLDER/PA3.zip)")
    p.set_defaults(func=_pack)

    p = sub.add_parser("build", help="build the student bundle or the autograder")
    p.add_argument("what", choices=["student", "autograder"])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--zip", action="store_true", help="student bundle: also write OUT.zip")
    p.set_defaults(func=_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
