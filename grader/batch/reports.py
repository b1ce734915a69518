"""Batch outputs: grades.csv and summary.html (matplotlib plots), built from the results on disk."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

SECTIONS = ("1.1", "1.2", "2")


def load_results(out: Path) -> list[dict]:
    rows = []
    for path in sorted((out / "results").glob("*.json")):
        try:
            rows.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return rows


def section_points(record: dict | None) -> dict[str, float]:
    points = {s: 0.0 for s in SECTIONS}
    for test in (record or {}).get("tests", []):
        number = test.get("number", "")
        section = "2" if number.startswith("2") else ".".join(number.split(".")[:2])
        if section in points:
            points[section] += float(test.get("score", 0))
    return points


def write_csv(out: Path, rows: list[dict]) -> Path:
    path = out / "grades.csv"
    tmp = path.with_suffix(".csv.partial")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "names", "emails", "late", *(f"section_{s}" for s in SECTIONS), "total", "max_total",
                         "status", "seconds", "message"])
        for row in sorted(rows, key=lambda r: r["id"]):
            record = row.get("record")
            points = section_points(record)
            writer.writerow([row["id"], "; ".join(row.get("names", [])), "; ".join(row.get("emails", [])),
                             row.get("late", False), *(f"{points[s]:g}" for s in SECTIONS),
                             f"{record['score']:g}" if record else "", f"{record['max_score']:g}" if record else "",
                             row["status"], row.get("seconds", ""), row.get("message", "")[:300]])
    tmp.replace(path)
    return path


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def write_summary(out: Path, rows: list[dict], title: str = "PA3 batch summary") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in rows if r.get("record")]
    images = []
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist([r["record"]["score"] for r in graded] or [0], bins=20, color="#3a6ea5")
    ax.set_xlabel("autograded points")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    images.append(("Score distribution", _png(fig)))
    plt.close(fig)

    totals: dict[str, list[int]] = {}
    for r in graded:
        for t in r["record"]["tests"]:
            totals.setdefault(t["number"], []).append(t["status"] == "passed")
    numbers = sorted(totals, key=lambda n: tuple(int(p) if p.isdigit() else 0 for p in n.split(".")))
    fig, ax = plt.subplots(figsize=(max(7, len(numbers) * 0.12), 3.2))
    ax.bar(range(len(numbers)), [sum(totals[n]) / len(totals[n]) for n in numbers] or [], color="#5b9a5b")
    ax.set_xticks(range(len(numbers)), numbers, rotation=90, fontsize=5)
    ax.set_ylabel("pass rate")
    ax.set_ylim(0, 1)
    ax.set_title("Pass rate per test")
    images.append(("Pass rate per test", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ordered = sorted(rows, key=lambda r: r["id"])
    ax.bar(range(len(ordered)), [float(r.get("seconds") or 0) for r in ordered], color="#a5673a")
    ax.set_xlabel("submission")
    ax.set_ylabel("seconds")
    ax.set_title("Grading time per submission")
    images.append(("Grading time per submission", _png(fig)))
    plt.close(fig)

    statuses = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    body = "".join(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
                   for name, data in images)
    status_line = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    path = out / "summary.html"
    tmp = path.with_suffix(".html.partial")
    tmp.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
                   f"<body style='font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto'>"
                   f"<h1>{html.escape(title)}</h1><p>{len(rows)} submissions ({html.escape(status_line)}); "
                   f"grades in <a href='grades.csv'>grades.csv</a>, feedback pages in feedback/.</p>{body}</body></html>")
    tmp.replace(path)
    return path
