"""Pair scores from copydetect fingerprints, calibrated so that code everyone writes alike does not count.

copydetect tokenises each text with Pygments and normalises it (every name becomes V, every string S, comments and
whitespace go), so renaming variables, rewording comments or moving methods around changes nothing; it then hashes
every K-character window of that normalised text (no winnowing: WINDOW 1). On top of that, three rules keep honest
students apart:

- the starter code is removed first (sources.Code.own: every line the starter has), and each remaining run of
  the student's own lines is fingerprinted apart, so the given signatures and cells never count and no run
  bridges two members through the starter code between them;
- a window found in at least COMMON_SHARE of the submissions (at least COMMON_MIN of them, and always in
  COMMON_MAX: in a class of hundreds, a ring of a dozen copies is rarer than an idiom of a dozen) is common code
  (the class's idioms: ``np.maximum(0, Z)``, the usual PyTorch training loop) and is removed too, and so is
  every window of the course's own solution (reference/, less the starter code): the canonical answer that
  honest students converge on in a class of any size (the vectorised layer, the usual plot cell);
- of what two submissions still share, only runs of at least MIN_RUN normalised characters count. A short member's
  vectorised solution (``return np.maximum(0, Z)`` is ``returnV.V(0,V)``: 14 characters) is the same for everyone
  and shorter than any run that counts, while a copied method or cell is one long run.

A pair's score is the normalised characters in such runs (the mean of the two sides), and it is flagged at
FLAG_AT or more: some six lines of code, in runs of three lines or more, that few others share.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from copydetect import CodeFingerprint
from copydetect.utils import get_copied_slices

K = 25             # window: normalised characters hashed together (copydetect's default noise threshold)
WINDOW = 1         # every window kept (no winnowing): exact runs, and the same scores in every process
MIN_RUN = 60       # a shared run shorter than this (normalised characters) never counts
COMMON_SHARE = 0.2  # a window in at least this share of the submissions ...
COMMON_MIN = 4      # ... and in at least this many is common code;
COMMON_MAX = 10     # in this many, always (MOSS's default): a large class's idioms go, a small ring of copies stays
FLAG_AT = 150      # normalised characters in counted runs that flag a pair


@dataclass
class Chunk:
    """One run of a student's own lines, where its normalised text starts in the print's position space."""

    where: str
    raw: str
    offsets: np.ndarray
    base: int
    length: int


@dataclass
class Print:
    """One submission's fingerprint: hash -> positions (over all its chunks), and the chunks to map them back."""

    id: str
    chunks: list[Chunk]
    hashes: dict[int, list[int]]

    def keep(self, allowed: set[int]) -> None:
        self.hashes = {h: p for h, p in self.hashes.items() if h in allowed}


def fingerprint(ident: str, chunks: list[tuple[str, str]]) -> Print:
    """copydetect's fingerprint of each chunk (Python); chunks are laid K apart, so no run spans two."""
    hashes: dict[int, list[int]] = {}
    kept, base = [], 0
    for where, text in chunks:
        fp = CodeFingerprint("code.py", K, WINDOW, fp=io.StringIO(text))
        for h, positions in fp.hash_idx.items():
            hashes.setdefault(int(h), []).extend(base + int(p) for p in positions)
        kept.append(Chunk(where, text, fp.offsets, base, len(fp.filtered_code)))
        base += len(fp.filtered_code) + 2 * K
    return Print(ident, kept, hashes)


def drop_common(prints: list[Print], expected: Print | None = None) -> set[int]:
    """Remove from every print the windows found in many submissions, and those of the ``expected`` code (the
    course's own solution: the canonical answer honest students converge on); return the windows removed."""
    counts: dict[int, int] = {}
    for p in prints:
        for h in p.hashes:
            counts[h] = counts.get(h, 0) + 1
    limit = min(COMMON_MAX, max(COMMON_MIN, COMMON_SHARE * len(prints)))
    common = {h for h, n in counts.items() if n >= limit} | (set(expected.hashes) if expected else set())
    for p in prints:
        p.keep(set(p.hashes) - common)
    return common


@dataclass
class Match:
    a: str
    b: str
    score: float
    runs_a: list[tuple[int, int, int]]   # counted runs: (chunk index, start, end) in that chunk of a
    runs_b: list[tuple[int, int, int]]

    @property
    def flagged(self) -> bool:
        return self.score >= FLAG_AT


def _long_runs(positions: np.ndarray) -> np.ndarray:
    """Shared runs (2 x N starts and ends in normalised characters) of at least MIN_RUN."""
    if len(positions) == 0:
        return np.zeros((2, 0), dtype=np.int64)
    slices = get_copied_slices(positions, K).astype(np.int64)
    return slices[:, (slices[1] - slices[0]) >= MIN_RUN]


def _to_raw(p: Print, runs: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs in the position space back to (chunk index, start, end) in that chunk's raw text, with copydetect's
    own offset mapping."""
    out = []
    bases = np.array([c.base for c in p.chunks])
    for start, end in zip(runs[0], runs[1]):
        i = int(np.searchsorted(bases, start, side="right")) - 1
        chunk = p.chunks[i]
        span = np.array([start - chunk.base, end - chunk.base])
        if len(chunk.offsets):
            span += chunk.offsets[:, 1][np.clip(np.searchsorted(chunk.offsets[:, 0], span), 0,
                                                chunk.offsets.shape[0] - 1)]
        out.append((i, int(span[0]), int(min(span[1], len(chunk.raw)))))
    return out


def compare(a: Print, b: Print, ranges: bool = False) -> Match:
    """Score a pair; with ``ranges``, also where its counted runs lie in each raw text (for the report)."""
    shared = a.hashes.keys() & b.hashes.keys()
    if not shared:
        return Match(a.id, b.id, 0.0, [], [])
    pos_a = np.concatenate([np.asarray(a.hashes[h]) for h in shared])
    pos_b = np.concatenate([np.asarray(b.hashes[h]) for h in shared])
    runs_a, runs_b = _long_runs(pos_a), _long_runs(pos_b)
    score = (float(np.sum(runs_a[1] - runs_a[0])) + float(np.sum(runs_b[1] - runs_b[0]))) / 2
    if not ranges:
        return Match(a.id, b.id, score, [], [])
    return Match(a.id, b.id, score, _to_raw(a, runs_a), _to_raw(b, runs_b))
