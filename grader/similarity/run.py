"""`pa3 similarity`: compare a class's submissions with each other (and with earlier terms' archives)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from grader.batch.inputs import discover
from grader.similarity import fingerprint as fpr
from grader.similarity.report import write_report
from grader.similarity.sources import Code, expected_code, read_submission, starter_code


@dataclass
class SimilarityOutcome:
    pairs: list[fpr.Match]                 # every pair compared, highest score first
    prints: dict[str, fpr.Print]
    out: Path
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[fpr.Match]:
        return [m for m in self.pairs if m.flagged]


def rank(codes: list[Code], archive: list[Code] = (), starter: Code | None = None, expected: Code | None = None
         ) -> tuple[list[fpr.Match], dict[str, fpr.Print]]:
    """Every pair within ``codes`` and every (class, archive) pair, highest score first (flagged pairs carry
    where their counted runs lie), and each submission's print."""
    starter = starter or starter_code()
    expected = expected or expected_code()
    prints = {c.id: fpr.fingerprint(c.id, c.own(starter)) for c in (*codes, *archive)}
    fpr.drop_common(list(prints.values()), fpr.fingerprint("expected", expected.own(starter)))
    pairs = list(combinations([c.id for c in codes], 2)) + [(c.id, a.id) for c in codes for a in archive]
    # Only pairs sharing enough windows for one counted run are worth comparing (common windows are gone, so
    # the lists are short): the rest score 0 without a look, which keeps a class of hundreds quick.
    holders: dict[int, list[str]] = {}
    for ident, p in prints.items():
        for h in p.hashes:
            holders.setdefault(h, []).append(ident)
    shared: dict[tuple[str, str], int] = {}
    for ids in holders.values():
        for pair in combinations(ids, 2):
            shared[pair] = shared.get(pair, 0) + 1
    enough = fpr.MIN_RUN - fpr.K + 1

    def worth(a: str, b: str) -> bool:
        return max(shared.get((a, b), 0), shared.get((b, a), 0)) >= enough

    matches = [fpr.compare(prints[a], prints[b]) if worth(a, b) else fpr.Match(a, b, 0.0, [], [])
               for a, b in pairs]
    matches = [fpr.compare(prints[m.a], prints[m.b], ranges=True) if m.flagged else m for m in matches]
    return sorted(matches, key=lambda m: (-m.score, m.a, m.b)), prints


def _read(folder: Path, prefix: str = "") -> list[Code]:
    return [read_submission(s.path, prefix + s.id) for s in discover(folder)]


def run_similarity(input_dir: Path, out: Path, archives: list[Path] = ()) -> SimilarityOutcome:
    """Compare the submissions found in ``input_dir`` (any layout `pa3 batch` reads), and each of them with
    those in ``archives``; write ``out``/similarity.json and ``out``/similarity.html."""
    codes = _read(Path(input_dir))
    archive: list[Code] = []
    names: set[str] = set()
    for number, folder in enumerate(archives, 1):
        name = Path(folder).resolve().name or f"archive{number}"
        name = name if name not in names else f"{name}-{number}"  # two terms' folders may share a name
        names.add(name)
        archive += _read(Path(folder), prefix=f"{name}/")
    pairs, prints = rank(codes, archive)
    notes = [f"{c.id}: {note}" for c in (*codes, *archive) for note in c.notes]
    outcome = SimilarityOutcome(pairs, prints, Path(out), notes)
    write_report(outcome)
    return outcome
