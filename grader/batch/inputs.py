"""Find the submissions in a batch INPUT folder.

Three layouts: a folder of zips or folders (one per student); a Gradescope "Export Submissions"
folder (submission_metadata.yml with :submitters:); a Canvas/Quercus bulk download (files named
``lastnamefirstname[_LATE]_<userid>_<attachmentid>_<name>``, resubmissions suffixed ``-N``),
of which the newest per student is graded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CANVAS = re.compile(r"^(?P<login>[a-z0-9]+?)(?P<late>_late)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<name>.+?)"
                    r"(?:-(?P<resubmission>\d+))?(?P<ext>\.[A-Za-z0-9]+)?$", re.I)
SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Submission:
    id: str                                  # safe for file names: results/<id>.json
    path: Path
    names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    late: bool = False
    replaced: list[str] = field(default_factory=list)  # older submissions of the same student, not graded


def _text(name: str) -> str:
    """A file name as text for pages and CSVs: bytes that are not UTF-8 become U+FFFD, not a crash later."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _safe(text: str) -> str:
    return SAFE_ID.sub("_", text).strip("_") or "submission"


def gradescope_export(folder: Path) -> list[Submission]:
    import yaml

    metadata = yaml.safe_load((folder / "submission_metadata.yml").read_text()) or {}
    found = []
    for key, info in sorted(metadata.items()):
        path = folder / str(key)
        if not path.exists():
            continue
        people = (info or {}).get(":submitters") or []
        found.append(Submission(_safe(str(key)), path, [str(p.get(":name", "")) for p in people],
                                [str(p.get(":email", "")) for p in people]))
    return found


def canvas_download(folder: Path) -> list[Submission] | None:
    """The newest submission per student, or None when the names do not follow Canvas's pattern."""
    entries = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    matches = [(p, CANVAS.match(p.name)) for p in entries]
    if not entries or not all(m for _, m in matches):
        return None
    newest: dict[str, tuple[tuple[int, int], Path, re.Match]] = {}
    older: dict[str, list[str]] = {}
    for path, m in matches:
        order = (int(m["attachment"]), int(m["resubmission"] or 0))
        user = m["user"]
        if user in newest and newest[user][0] >= order:
            older.setdefault(user, []).append(_text(path.name))
            continue
        if user in newest:
            older.setdefault(user, []).append(_text(newest[user][1].name))
        newest[user] = (order, path, m)
    return [Submission(_safe(f"{m['login']}_{user}"), path, [_text(m["login"])], late=bool(m["late"]),
                       replaced=sorted(older.get(user, [])))
            for user, (_, path, m) in sorted(newest.items())]


def discover(folder: Path) -> list[Submission]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submissions")
    if (folder / "submission_metadata.yml").is_file():
        return gradescope_export(folder)
    canvas = canvas_download(folder)
    if canvas is not None:
        return canvas
    found, seen = [], set()
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "__MACOSX")):
            continue
        if path.is_dir() or path.suffix.lower() == ".zip":
            base = _safe(path.stem if path.is_file() else path.name)
            sid, n = base, 2
            while sid in seen:
                sid, n = f"{base}-{n}", n + 1
            seen.add(sid)
            found.append(Submission(sid, path, [_text(path.stem if path.is_file() else path.name)]))
    return found
