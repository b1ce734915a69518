"""The results model and its Gradescope results.json form, written once, atomically."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

from grader import atomic
from grader.messages import tell_staff

MAX_OUTPUT = 100_000
SECTIONS = {"1.1": "Section 1.1: layers, activations and loss",
            "1.2": "Section 1.2: the two-layer model",
            "2": "Section 2: PyTorch MLP notebook"}


def section_of(number: str) -> str:
    """The section a test number belongs to: "2" for every Section 2 item ("2", "2.4", "2.10.1"), else the
    number's first two parts ("1.1.7" -> "1.1", "1.2.999" -> "1.2")."""
    parts = str(number).split(".")
    return "2" if parts[0] == "2" else ".".join(parts[:2])


def number_key(number: str) -> tuple:
    """Sort key of a test number, part by part as numbers ("1.1.10" after "1.1.9"); a part that is not a
    number ("1.1.a", "") sorts after every number at its place, and such parts among themselves by text."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in str(number).split("."))


@dataclass
class TestResult:
    __test__ = False  # not a pytest class

    name: str
    number: str
    score: float
    max_score: float
    status: str                 # "passed" or "failed"
    output: str = ""
    visibility: str = "visible"
    tags: list[str] = field(default_factory=list)

    @property
    def section(self) -> str:
        return section_of(self.number)


@dataclass
class GradeResult:
    tests: list[TestResult]
    execution_time: float
    isolation: str
    seed: str
    output: str = ""
    notes: list[str] = field(default_factory=list)
    hand_graded: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    # Not fields (never serialised): the executed notebook, for the entry point to keep once results.json is
    # written (grader.notebook.keep), and the grading's deadline (time.monotonic()) that bounds that too.
    executed_notebook = None
    deadline_at = None

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    def by_section(self) -> dict[str, list[TestResult]]:
        sections: dict[str, list[TestResult]] = {}
        for test in self.tests:
            sections.setdefault(test.section, []).append(test)
        return sections

    def summary_text(self) -> str:
        lines = [f"Autograded: {self.score:g} / {self.max_score:g} points.",
                 f"Isolation: {self.isolation}.", f"Hidden-test seed: {self.seed}."]
        lines += [f"Note: {note}" for note in self.notes]
        if self.hand_graded:
            lines.append("Hand-graded (not scored here): " + "; ".join(self.hand_graded) + ".")
        if self.output:
            lines.append(self.output)
        return "\n".join(lines)

    def to_gradescope(self) -> dict:
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": cap(self.summary_text()),
            "output_format": "text",
            "stdout_visibility": "hidden",
            "extra_data": {"isolation": self.isolation, "seed": self.seed, "max_score": self.max_score, **self.extra},
            "tests": [
                {"name": t.name, "number": t.number, "score": round(t.score, 4), "max_score": t.max_score,
                 "status": t.status, "output": cap(t.output), "visibility": t.visibility, "tags": list(t.tags)}
                for t in self.tests
            ],
        }

    def to_dict(self) -> dict:
        return asdict(self) | {"score": self.score, "max_score": self.max_score}

    @classmethod
    def from_dict(cls, record: dict) -> GradeResult:
        """The GradeResult that ``to_dict`` wrote (as read back from JSON); its derived score and max_score
        are computed again, never read."""
        names = {f.name for f in fields(cls)} - {"tests"}
        return cls(tests=[TestResult(**t) for t in record["tests"]], **{k: record[k] for k in names if k in record})


def cap(text: str, limit: int = MAX_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    marker = f"\n...[output cut: {len(text) - limit} more characters]"
    return text[: limit - len(marker)] + marker


def schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("schemas/gradescope_results.schema.json").read_text())


def validate(document: dict) -> None:
    """Raise jsonschema.ValidationError when ``document`` is not a valid Gradescope results.json."""
    import jsonschema

    jsonschema.validate(document, schema())


def write_atomic(path: Path, document: dict) -> None:
    """Write JSON to ``path`` through a temporary file and a rename: readers never see half a file."""
    atomic.write_json(path, document)


def write_results(path: Path, result: GradeResult) -> dict:
    """Validate and write the Gradescope form of ``result``; return it."""
    document = result.to_gradescope()
    validate(document)
    write_atomic(path, document)
    return document


def not_graded(message: str, execution_time: float) -> "GradeResult":
    """A complete result for a submission the grader could not grade at all: one failed entry saying why."""
    return GradeResult(tests=[TestResult(name="autograder error", number="0", score=0, max_score=0, status="failed",
                                         output=tell_staff(message))],
                       execution_time=execution_time, isolation="unknown", seed="")
