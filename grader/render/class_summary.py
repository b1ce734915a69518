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


def needs_a_human(rows: list[dict]) -> list[dict]:
    """Submissions a TA should open: not graded (malformed, timeout, error) or graded with a missing,
    misnamed or broken file (their message names it)."""
    return sorted((r for r in rows if r.get("status") != "graded" or r.get("message")), key=lambda r: r["id"])


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


def _rate_chart(plt, rates: dict[str, dict], title: str, whole: str) -> str:
    """Horizontal bars, one readable label each, annotated with the rate and how many submissions got it all."""
    labels = list(rates)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.38 * len(labels)))
    ax.barh(range(len(labels)), [rates[label]["rate"] for label in labels], color="#5b9a5b")
    for i, label in enumerate(labels):
        r = rates[label]
        ax.text(r["rate"] + 0.01, i, f"{100 * r['rate']:.0f}%; {r['all']} of {r['of']} {whole}", va="center",
                fontsize=9)
    ax.set_yticks(range(len(labels)), labels, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.45)
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
                       _rate_chart(plt, by_member, "Pass rate per graded member", "pass all its tests")))
    if by_item:
        images.append(("Pass rate per Section 2 item", _rate_chart(plt, by_item, "Section 2 items", "pass")))

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
    body = _human_table(needs_a_human(rows)) + "".join(
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


def _human_table(rows: list[dict]) -> str:
    if not rows:
        return "<h2>Needs a human</h2><p>None: every submission was graded with all its files.</p>"
    cells = "".join(f"<tr><td><a href='feedback/{html.escape(r['id'])}.html'>{html.escape(r['id'])}</a></td>"
                    f"<td>{html.escape('; '.join(r.get('names', [])))}</td><td>{html.escape(r['status'])}</td>"
                    f"<td>{html.escape(str(r.get('message', ''))[:500])}</td></tr>" for r in rows)
    return (f"<h2>Needs a human ({len(rows)})</h2><table><tr><th>submission</th><th>students</th><th>status</th>"
            f"<th>why</th></tr>{cells}</table>")
