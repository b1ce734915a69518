"""A class's summary.html (matplotlib plots) for a TA, built from the batch's results on disk (grader/batch/grades.py)."""  # noqa: E501

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from grader import atomic
from grader.render.inert import CSP_META
from grader.results import number_key, section_of
from test_specs.contract import STUDENT_MEMBERS

MEMBERS = tuple(m for members in STUDENT_MEMBERS.values() for m in members)  # the eleven graded members


def _section2(row: dict) -> dict:
    """extra_data.section2 of a row's results ({"accuracy", "threshold", "env_fault"}), {} when absent or odd."""
    for extra in ((row.get("gradescope") or {}).get("extra_data"), (row.get("record") or {}).get("extra")):
        if isinstance(extra, dict) and isinstance(extra.get("section2"), dict):
            return extra["section2"]
    return {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def reasons(row: dict) -> list[str]:
    """Why a TA must act on this submission; [] when nothing needs a human."""
    if row.get("status") != "graded":
        return [f"not graded ({row.get('status')}): {row.get('message', '')}".rstrip(": ")]
    record = row.get("record") or {}
    extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
    why = []
    # A missing or broken file matters only where this run grades what needs it: a --no-notebook run never
    # needs PA3.ipynb, and no run grades the hand-graded PDF.
    notebook_graded = any(section_of(str(t.get("number", ""))) == "2" for t in record.get("tests", []))
    problems = extra.get("problems") if isinstance(extra.get("problems"), dict) else {}
    for name, problem in problems.items():
        if str(name).endswith(".py") or (str(name).endswith(".ipynb") and notebook_graded):
            why.append(str(problem))
    checks = extra.get("isolation_checks") if isinstance(extra.get("isolation_checks"), dict) else {}
    # At the bwrap and user levels the hidden tests must be out of the student's reach; process and none are
    # chosen by the TA knowing they are not.
    if not checks.get("safe", not checks.get("readable")) and checks.get("level") in ("bwrap", "user"):
        why.append(f"isolation weaker than asked: at the {checks.get('level')} level student code could read "
                   f"{len(checks.get('readable') or [])} hidden file(s) {checks.get('verdict') or ''}".rstrip())
    if isinstance(row.get("regrade"), dict):
        why.append(f"the grade changed on regrade: {row['regrade'].get('before')} before, "
                   f"{row['regrade'].get('after')} now")
    section2 = _section2(row)
    accuracy, threshold = _number(section2.get("accuracy")), _number(section2.get("threshold"))
    if accuracy is not None and threshold is not None and abs(accuracy - threshold) <= 0.01:
        why.append(f"accuracy {accuracy:.3f} within 0.01 of the threshold {threshold:g}")
    if section2.get("env_fault"):
        why.append(f"the grader's setting, not the student: {section2['env_fault']}")
    return why


def needs_a_human(rows: list[dict]) -> list[dict]:
    """Submissions a TA must act on (each with its reasons): not graded (malformed, timeout, error), a file this
    run needed missing or broken, isolation weaker than asked, a grade changed on regrade, a Section 2 accuracy
    at the threshold or a fault of the grading environment."""
    found = [{**r, "why": why} for r in rows if (why := reasons(r))]
    return sorted(found, key=lambda r: r["id"])


def flagged_pairs(out: Path) -> list[dict]:
    """The flagged pairs of out/similarity.json (pa3 similarity / pa3 batch --similarity), [] when none."""
    import json

    try:
        pairs = json.loads((out / "similarity.json").read_text()).get("pairs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [p for p in pairs if isinstance(p, dict) and p.get("flagged") is True]


def member_of(test: dict) -> str | None:
    """The graded member a Section 1 test is about, from its name ("ReLU.backward: ..."), as the contract names it."""
    head = str(test.get("name", "")).split(":", 1)[0].strip()
    return head if head in MEMBERS else None


def pass_rates(rows: list[dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per graded member and per Section 2 item, over the graded submissions: {"rate": share of its tests
    passed, "tests": tests counted, "all": submissions passing all its tests, "of": submissions}.
    Members in the contract's order, items (labelled "2.4 validation accuracy ...") in rubric order."""
    members: dict[str, dict[str, list[bool]]] = {m: {} for m in MEMBERS}
    items: dict[str, dict[str, list[bool]]] = {}
    labels: dict[str, str] = {}
    for row in rows:
        if row.get("status") != "graded" or not row.get("record"):
            continue
        for test in row["record"]["tests"]:
            passed = test.get("status") == "passed"
            member, number = member_of(test), str(test.get("number", ""))
            if member:
                members[member].setdefault(row["id"], []).append(passed)
            elif section_of(number) == "2":
                # The rubric's words only: a name's "(measured 0.921)" or "(weights only in ...)" differ per notebook.
                name = str(test.get("name", "")).removeprefix("PA3.ipynb: ").split(" (")[0]
                labels.setdefault(number, f"{number} {name}"[:60])
                items.setdefault(number, {}).setdefault(row["id"], []).append(passed)

    def rates(by_submission: dict[str, list[bool]]) -> dict:
        results = [p for passed in by_submission.values() for p in passed]
        return {"rate": sum(results) / len(results), "tests": len(results),
                "all": sum(all(passed) for passed in by_submission.values()), "of": len(by_submission)}

    by_member = {m: rates(v) for m, v in members.items() if v}
    by_item = {labels[n]: rates(items[n]) for n in sorted(items, key=number_key)}
    return by_member, by_item


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def bar_label(rate: dict, whole: str) -> str:
    """A pass-rate bar's label: its own length first (the share of tests passed, "42% of tests"), then how
    many submissions passed every one of them, said as such so that no one reads it as the bar."""
    return f"{100 * rate['rate']:.0f}% of tests; {rate['all']} of {rate['of']} {whole}"


def _rate_chart(plt, rates: dict[str, dict], title: str, whole: str) -> str:
    """Horizontal bars, one readable label each, annotated with the rate and how many submissions got it all."""
    labels = list(rates)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.38 * len(labels)))
    ax.barh(range(len(labels)), [rates[label]["rate"] for label in labels], color="#5b9a5b")
    for i, label in enumerate(labels):
        r = rates[label]
        ax.text(r["rate"] + 0.01, i, bar_label(r, whole), va="center", fontsize=9)
    ax.set_yticks(range(len(labels)), labels, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.6)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_xlabel("pass rate")
    ax.set_title(title)
    data = _png(fig)
    plt.close(fig)
    return data


def _time_chart(plt, rows: list[dict]) -> str:
    ordered = sorted(rows, key=lambda r: r["id"])
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.3 * len(ordered)))
    positions = range(len(ordered))
    wall = [float(r.get("seconds") or 0) for r in ordered]
    cpu = [float(r.get("cpu_seconds") or 0) for r in ordered]
    colors = ["#a5673a" if r.get("status") in ("graded", "malformed") else "#c0392b" for r in ordered]
    ax.barh(positions, wall, height=0.8, color=colors, label="wall seconds")
    ax.barh(positions, cpu, height=0.35, color="#333333", label="CPU seconds (whole process tree)")
    ax.set_yticks(positions, [f"{r['id']} ({r.get('status')})" if r.get("status") != "graded" else r["id"]
                              for r in ordered], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Grading time per submission")
    data = _png(fig)
    plt.close(fig)
    return data


def write_summary(out: Path, rows: list[dict], title: str = "PA3 batch summary", usage: str | None = None) -> Path:
    """summary.html for a TA: who needs a look, what to teach again (pass rate per member and per Section 2
    item), the score distribution, the pass rate per test and the time per submission."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in rows if r.get("record")]
    by_member, by_item = pass_rates(rows)
    images = []
    if by_member:
        images.append(("Pass rate per graded member (Sections 1.1 and 1.2)",
                       _rate_chart(plt, by_member, "Pass rate per graded member", "submissions pass them all")))
    if by_item:
        images.append(("Pass rate per Section 2 item",
                       _rate_chart(plt, by_item, "Section 2 items", "submissions pass")))

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist([r["record"]["score"] for r in graded] or [0], bins=20, color="#3a6ea5")
    ax.set_xlabel("autograded points")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    images.append(("Score distribution", _png(fig)))
    plt.close(fig)

    totals: dict[str, list[int]] = {}
    for r in (r for r in graded if r.get("status") == "graded"):
        for t in r["record"]["tests"]:
            totals.setdefault(t["number"], []).append(t["status"] == "passed")
    numbers = sorted(totals, key=number_key)
    fig, ax = plt.subplots(figsize=(max(7, len(numbers) * 0.12), 3.2))
    ax.bar(range(len(numbers)), [sum(totals[n]) / len(totals[n]) for n in numbers] or [], color="#5b9a5b")
    ax.set_xticks(range(len(numbers)), numbers, rotation=90, fontsize=5)
    ax.set_ylabel("pass rate")
    ax.set_ylim(0, 1)
    ax.set_title("Pass rate per test")
    images.append(("Pass rate per test", _png(fig)))
    plt.close(fig)

    if rows:
        images.append(("Grading time per submission", _time_chart(plt, rows)))

    statuses = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    body = _human_table(needs_a_human(rows), flagged_pairs(out)) + "".join(
        f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
        for name, data in images)
    status_line = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    usage_line = f"<p>This run: {html.escape(usage)}.</p>" if usage else ""
    path = out / "summary.html"
    atomic.write_text(path, f"<!doctype html><html><head><meta charset='utf-8'>{CSP_META}"
                   f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
                   f"<body><h1>{html.escape(title)}</h1><p>{len(rows)} submissions ({html.escape(status_line)}); "
                   f"grades in <a href='grades.csv'>grades.csv</a>, feedback pages in feedback/.</p>{usage_line}"
                   f"{body}</body></html>")
    return path


STYLE = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;"
         "vertical-align:top}th{background:#f0f0f0}img{max-width:100%}")


def _human_table(rows: list[dict], pairs: list[dict] = ()) -> str:
    if not rows and not pairs:
        return "<h2>Needs a human</h2><p>None: nothing here needs a human.</p>"
    parts = [f"<h2>Needs a human ({len(rows) + len(pairs)})</h2>"]
    if rows:
        cells = "".join(f"<tr><td><a href='feedback/{html.escape(r['id'])}.html'>{html.escape(r['id'])}</a></td>"
                        f"<td>{html.escape('; '.join(r.get('names', [])))}</td><td>{html.escape(r['status'])}</td>"
                        f"<td>{html.escape('; '.join(r['why'])[:500])}</td></tr>" for r in rows)
        parts.append(f"<table><tr><th>submission</th><th>students</th><th>status</th><th>why</th></tr>{cells}"
                     f"</table>")
    if pairs:
        cells = "".join(f"<tr><td>{html.escape(str(p.get('a')))}</td><td>{html.escape(str(p.get('b')))}</td>"
                        f"<td>{html.escape(str(p.get('score')))}</td></tr>" for p in pairs)
        parts.append(f"<h3>Similar code: flagged pairs (<a href='similarity.html'>side by side</a>)</h3>"
                     f"<table><tr><th>a</th><th>b</th><th>score</th></tr>{cells}</table>")
    return "".join(parts)
