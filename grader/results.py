"""The results model and its Gradescope results.json form, written once, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

MAX_OUTPUT = 100_000
SECTIONS = {"1.1": "Section 1.1: layers, activations and loss",
            "1.2": "Section 1.2: the two-layer model",
            "2": "Section 2: PyTorch MLP notebook"}


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
        return "2" if self.number.startswith("2") else ".".join(self.number.split(".")[:2])


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=2, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_results(path: Path, result: GradeResult) -> dict:
    """Validate and write the Gradescope form of ``result``; return it."""
    document = result.to_gradescope()
    validate(document)
    write_atomic(path, document)
    return document


def not_graded(message: str, execution_time: float) -> "GradeResult":
    """A complete result for a submission the grader could not grade at all: one failed entry saying why."""
    return GradeResult(tests=[TestResult(name="autograder error", number="0", score=0, max_score=0, status="failed",
                                         output=f"{message}; please tell the course staff")],
                       execution_time=execution_time, isolation="unknown", seed="")
