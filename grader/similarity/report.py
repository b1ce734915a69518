"""similarity.json (every pair, for scripts) and similarity.html (each flagged pair side by side, shared runs
marked). Student code is escaped, and the page's Content-Security-Policy forbids scripts altogether."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from grader import atomic
from grader.results import write_atomic
from grader.similarity import fingerprint as fpr

if TYPE_CHECKING:
    from grader.similarity.run import SimilarityOutcome

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;color:#222}.pair{display:grid;"
         "grid-template-columns:1fr 1fr;gap:1rem}pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;"
         "font-size:.8rem;overflow-wrap:anywhere}mark{background:#ffd966}h3{font-size:.9rem;margin:.4rem 0}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}")
MAX_SHOWN = 200_000  # characters of one side shown on the page
MAX_PAIRS = 100      # flagged pairs shown side by side (the highest; similarity.json has them all)


def pairs_json(outcome: SimilarityOutcome) -> dict:
    return {"method": {"tool": "copydetect", "window": fpr.K, "min_run": fpr.MIN_RUN, "flag_at": fpr.FLAG_AT,
                       "common_share": fpr.COMMON_SHARE, "common_min": fpr.COMMON_MIN,
                       "common_max": fpr.COMMON_MAX},
            "notes": outcome.notes,
            "pairs": [{"a": m.a, "b": m.b, "score": m.score, "flagged": m.flagged} for m in outcome.pairs]}


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in sorted(spans):
        start = max(start, at)
        if end <= start:
            continue
        out += [html.escape(text[at:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def _side(prints: fpr.Print, runs: list[tuple[int, int, int]]) -> str:
    """The chunks of one side that hold counted runs, each under where it is, runs marked."""
    parts, size = [], 0
    for index in sorted({r[0] for r in runs}):
        chunk = prints.chunks[index]
        size += len(chunk.raw)
        if size > MAX_SHOWN:
            parts.append("<p>(more not shown)</p>")
            break
        spans = [(s, e) for i, s, e in runs if i == index]
        parts.append(f"<h3>{html.escape(chunk.where)}</h3><pre>{_marked(chunk.raw, spans)}</pre>")
    return "".join(parts)


def pair_html(match: fpr.Match, a: fpr.Print, b: fpr.Print) -> str:
    return (f"<section><h2 id='{html.escape(match.a)}--{html.escape(match.b)}'>{html.escape(match.a)} and "
            f"{html.escape(match.b)}: {match.score:g}</h2><div class='pair'><div><h3>{html.escape(match.a)}</h3>"
            f"{_side(a, match.runs_a)}</div><div><h3>{html.escape(match.b)}</h3>{_side(b, match.runs_b)}</div>"
            f"</div></section>")


def write_report(outcome: SimilarityOutcome) -> None:
    out = outcome.out
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "similarity.json", pairs_json(outcome))
    flagged = outcome.flagged
    top = "".join(f"<tr><td>{html.escape(m.a)}</td><td>{html.escape(m.b)}</td><td>{m.score:g}</td>"
                  f"<td>{'flagged' if m.flagged else ''}</td></tr>" for m in outcome.pairs[:30] if m.score)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in outcome.notes)
    body = "".join(pair_html(m, outcome.prints[m.a], outcome.prints[m.b]) for m in flagged[:MAX_PAIRS])
    if len(flagged) > MAX_PAIRS:
        body += f"<p>{len(flagged) - MAX_PAIRS} more flagged pairs, with lower scores, are in similarity.json.</p>"
    page = (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\"><title>PA3 similarity</title>"
            f"<style>{STYLE}</style></head><body><h1>PA3 similarity</h1>"
            f"<p>{len(outcome.pairs)} pairs compared; {len(flagged)} flagged (score {fpr.FLAG_AT} or more). The score "
            f"is the code two submissions share in runs of at least {fpr.MIN_RUN} normalised characters (names "
            f"and strings normalised, comments and layout ignored), after removing the starter code, the course's "
            f"own solution and code found in many submissions. A flag is a reason to look, not a verdict. Every "
            f"pair is in similarity.json.</p>"
            f"<h2>Highest scores</h2><table><tr><th>a</th><th>b</th><th>score</th><th></th></tr>{top}</table>"
            + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
            + (f"<h2>Flagged pairs</h2>{body}" if flagged else "<p>No pair is flagged.</p>")
            + "</body></html>")
    atomic.write_text(out / "similarity.html", page)
