"""The per-section table both reports show (terminal and HTML): one row per section, then the hand-graded parts."""

from __future__ import annotations

from dataclasses import dataclass

from grader.results import SECTIONS, GradeResult


@dataclass(frozen=True)
class SectionRow:
    label: str          # "Section 1.1: layers, activations and loss", or a hand-graded part's name
    passed: str         # "7 / 9" tests passed; empty for a hand-graded part
    points: str         # "12.5 / 15"; "hand-graded" for a hand-graded part
    hand_graded: bool = False


def section_rows(result: GradeResult) -> list[SectionRow]:
    """Rows of the per-section table of ``result``: sections in the order their first test ran, then the
    parts a person grades (no points here)."""
    rows = [SectionRow(SECTIONS.get(section, section), f"{sum(t.status == 'passed' for t in tests)} / {len(tests)}",
                       f"{sum(t.score for t in tests):g} / {sum(t.max_score for t in tests):g}")
            for section, tests in result.by_section().items()]
    return rows + [SectionRow(item, "", "hand-graded", hand_graded=True) for item in result.hand_graded]
