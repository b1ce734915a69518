"""Partial credit: a spec made of weighted checks, each passing or failing on its own."""

from __future__ import annotations

from test_specs.support.compare import SpecFailure


class Checklist:
    """Run weighted checks; ``finish`` sets the score (gradescope-utils' set_score) and reports every failure."""

    def __init__(self, member: str, points: float, set_score) -> None:
        self.member, self.points, self.set_score = member, points, set_score
        self.earned = self.total = 0.0
        self.failures: list[str] = []
        self.passes: list[str] = []

    def check(self, weight: float, label: str, fn, *args) -> bool:
        from grader.messages import explain

        self.total += weight
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - each check fails on its own, the rest still run
            message = explain(exc).replace("\n", "\n    ")
            self.failures.append(f"[0/{weight:g}] {label}\n    {message}")
            return False
        self.earned += weight
        self.passes.append(f"[{weight:g}/{weight:g}] {label}")
        return True

    def not_charged(self, label: str, reason: str) -> None:
        """A check left out of this member's score (its weight leaves the total), with the reason shown."""
        self.passes.append(f"[not charged] {label}: {reason}")

    def finish(self) -> None:
        score = self.points * self.earned / self.total if self.total else 0.0
        self.set_score(round(score, 4))
        if self.failures:
            raise SpecFailure(f"{self.member}: {score:g} of {self.points:g} points\n"
                              + "\n".join(self.failures + self.passes))
