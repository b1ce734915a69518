"""A self-contained HTML feedback page for one graded submission (for students and TAs)."""

from __future__ import annotations

import html

from grader.render.inert import CSP_META
from grader.render.sections import section_rows
from grader.results import GradeResult

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.passed{color:#17692a}.failed{color:#a01818}pre{background:#f6f6f6;padding:.6rem;white-space:pre-wrap;font-size:.85rem}
details{margin:.3rem 0}summary{cursor:pointer}.muted{color:#666}"""


def render(result: GradeResult, title: str = "PA3 feedback", students: list[str] | None = None,
           show_hidden: bool = True) -> str:
    esc = html.escape
    # Everything from the submission is escaped; the policy (no scripts at all) makes a slip harmless.
    parts = [f"<!doctype html><html><head><meta charset='utf-8'>{CSP_META}<title>{esc(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>"]
    if students:
        parts.append(f"<p>{esc(', '.join(students))}</p>")
    parts.append(f"<p><strong>{result.score:g} / {result.max_score:g}</strong> autograded points "
                 f"<span class='muted'>({result.execution_time:.1f} s; {esc(result.isolation)})</span></p>")
    parts.append("<table><tr><th>Section</th><th>Passed</th><th>Points</th></tr>")
    for row in section_rows(result):
        cell = "<td class='muted'>" if row.hand_graded else "<td>"
        parts.append(f"<tr>{cell}{esc(row.label)}</td><td>{esc(row.passed)}</td>{cell}{esc(row.points)}</td></tr>")
    parts.append("</table>")
    for note in result.notes:
        parts.append(f"<p class='failed'>Note: {esc(note)}</p>")
    parts.append("<h2>Tests</h2>")
    for test in result.tests:
        if not show_hidden and test.visibility != "visible":
            continue
        label = f"{test.number} {test.name} ({test.score:g}/{test.max_score:g})"
        body = f"<pre>{esc(test.output)}</pre>" if test.output else ""
        parts.append(f"<details{' open' if test.status == 'failed' else ''}><summary class='{test.status}'>"
                     f"{esc(label)}</summary>{body}</details>")
    parts.append("</body></html>")
    return "".join(parts)
