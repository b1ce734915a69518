"""A batch's results on disk (results/<id>.json) and grades.csv, one row per submission."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from grader import atomic, results
from grader.render.inert import csv_cell

SECTIONS = tuple(results.SECTIONS)  # "1.1", "1.2", "2"


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
        section = results.section_of(test.get("number", ""))
        if section in points:
            points[section] += float(test.get("score", 0))
    return points


CSV_COLUMNS = ["id", "names", "emails", "late", *(f"section_{s}" for s in SECTIONS), "total", "max_total", "status",
               "seconds", "cpu_seconds", "threads", "message"]


def write_csv(out: Path, rows: list[dict]) -> Path:
    """grades.csv: one row per submission; ``seconds`` is wall time, ``cpu_seconds`` its whole process tree's."""
    path = out / "grades.csv"
    with atomic.replacing(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for row in sorted(rows, key=lambda r: r["id"]):
            record = row.get("record")
            points = section_points(record)
            threads = row.get("threads", "")
            # Ids, names, e-mails and the message carry what a student named or wrote: made inert (OWASP).
            writer.writerow([csv_cell(row["id"]), csv_cell("; ".join(map(str, row.get("names", [])))),
                             csv_cell("; ".join(map(str, row.get("emails", [])))), row.get("late", False),
                             *(f"{points[s]:g}" for s in SECTIONS),
                             f"{record['score']:g}" if record else "", f"{record['max_score']:g}" if record else "",
                             row["status"], row.get("seconds", ""), row.get("cpu_seconds", ""),
                             "torch default" if threads is None else threads,
                             csv_cell(str(row.get("message", ""))[:300])])
    return path
