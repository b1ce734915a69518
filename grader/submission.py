"""Submission intake: a folder or a PA3.zip, unpacked safely, checked file by file.

Every zip entry is checked before anything is written: no absolute paths or ``..``,
no symlinks, no encrypted entries, limits on entry count, sizes and compression
ratio (declared sizes are also enforced while reading, since headers can lie).
A missing, misnamed or non-compiling file is reported by name; the tests that need
it fail with that message while the rest are graded.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from test_specs.contract import GRADER_SUPPLIED, REQUIRED_FILES, SUBMITTED_MODULES

JUNK_PARTS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
MAX_ENTRIES = 2000
MAX_FILE = 50 << 20          # one file (a notebook with outputs can be large)
MAX_TOTAL = 200 << 20        # everything kept
MAX_RATIO = 200              # uncompressed / compressed, for entries over 1 MiB
MAX_SOURCE = 1 << 20         # a graded .py file


class SubmissionError(Exception):
    """The submission cannot be read at all (not a zip, too many entries)."""


@dataclass
class Intake:
    root: Path                                          # folder holding the submission's files
    files: dict[str, Path] = field(default_factory=dict)  # required name -> path, when present and usable
    problems: dict[str, str] = field(default_factory=dict)  # required name -> what is wrong
    notes: list[str] = field(default_factory=list)      # skipped entries and other remarks
    digest: str = ""                                     # sha256 of the graded files: seeds hidden tests

    def module_problems(self) -> dict[str, str]:
        """{module name: message} for the Python modules that cannot be imported as submitted."""
        return {name[:-3]: msg for name, msg in self.problems.items() if name.endswith(".py")}


def _junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK_PARTS or p.startswith("._") for p in parts) or (parts and parts[-1] in JUNK_NAMES)


def _safe_name(name: str) -> PurePosixPath | None:
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts or "\x00" in name:
        return None
    return path


def unpack_zip(archive: Path, dest: Path, notes: list[str]) -> None:
    """Extract the safe, non-junk entries of ``archive`` into ``dest``; note every entry refused."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive.name} is not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise SubmissionError(f"{archive.name} has {len(infos)} entries (limit {MAX_ENTRIES})")
        accepted, total = [], 0
        for info in infos:                                     # 1. check everything
            path = _safe_name(info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if path is None:
                notes.append(f"refused {info.filename!r}: the path leaves the submission folder")
            elif stat.S_ISLNK(mode):
                notes.append(f"refused {info.filename!r}: symbolic links are not accepted")
            elif info.flag_bits & 0x1:
                notes.append(f"refused {info.filename!r}: encrypted")
            elif _junk(path.parts):
                continue
            elif info.file_size > MAX_FILE:
                notes.append(f"refused {info.filename!r}: {info.file_size} bytes (limit {MAX_FILE})")
            elif info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                notes.append(f"refused {info.filename!r}: compression ratio over {MAX_RATIO} (zip bomb?)")
            elif total + info.file_size > MAX_TOTAL:
                notes.append(f"refused {info.filename!r}: the submission would exceed {MAX_TOTAL} bytes")
            else:
                total += info.file_size
                accepted.append((info, path))
        for info, path in accepted:                            # 2. then write
            target = dest.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    remaining = info.file_size
                    while chunk := src.read(min(1 << 20, remaining + 1)):
                        remaining -= len(chunk)
                        if remaining < 0:
                            raise SubmissionError("more data than its header declares")
                        out.write(chunk)
            except (SubmissionError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                target.unlink(missing_ok=True)
                notes.append(f"refused {info.filename!r}: {exc}")


def copy_folder(source: Path, dest: Path, notes: list[str]) -> None:
    """Copy the regular files of a submission folder (no symlinks, same limits as a zip)."""
    total, count = 0, 0
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if _junk(rel.parts) or path.is_dir():
            continue
        if path.is_symlink():
            notes.append(f"refused {rel}: symbolic links are not accepted")
            continue
        if not path.is_file():
            continue
        size = path.stat().st_size
        count += 1
        if count > MAX_ENTRIES:
            raise SubmissionError(f"{source} holds more than {MAX_ENTRIES} files")
        if size > MAX_FILE or total + size > MAX_TOTAL:
            notes.append(f"refused {rel}: too large ({size} bytes)")
            continue
        total += size
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def find_root(unpacked: Path) -> Path:
    """The folder holding the submission: the top, or the one folder (at any depth) with the most required files."""
    required = {name.lower() for name in REQUIRED_FILES}

    def score(folder: Path) -> int:
        return sum(1 for p in folder.iterdir() if p.is_file() and p.name.lower() in required)

    folders = [unpacked, *(p for p in sorted(unpacked.rglob("*")) if p.is_dir())]
    best = max(folders, key=lambda f: (score(f), -len(f.parts)))
    return best if score(best) else unpacked


def near_miss(name: str, candidates: list[str]) -> str | None:
    """A file that was probably meant to be ``name`` (case, plural, small typo)."""
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    stem, suffix = name.rsplit(".", 1)
    same_kind = [c for c in candidates if c.lower().endswith("." + suffix.lower())]
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in same_kind], n=1, cutoff=0.75)
    if close:
        return next(c for c in same_kind if c.lower() == close[0])
    return None


def check_source(path: Path) -> str | None:
    """Why a Python file cannot be imported as submitted, or None. Parsed with ast: nothing runs."""
    if path.stat().st_size > MAX_SOURCE:
        return f"{path.name} is larger than {MAX_SOURCE} bytes"
    raw = path.read_bytes()
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"{path.name} is not UTF-8 text (byte {exc.start})"
    try:
        ast.parse(source, filename=path.name)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = (exc.text or "").strip()
        return f"{path.name} does not compile: {exc.msg} ({where}{': ' + text if text else ''})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{path.name} cannot be parsed: {type(exc).__name__}: {exc}"
    return None


def take(source: Path, unpacked: Path) -> Intake:
    """Receive ``source`` (folder or zip) into ``unpacked`` and check the required files."""
    notes: list[str] = []
    source = Path(source)
    if source.is_dir():
        copy_folder(source, unpacked, notes)
    elif source.is_file():
        unpack_zip(source, unpacked, notes)
    else:
        raise SubmissionError(f"{source} does not exist")
    root = find_root(unpacked)
    present = sorted(p.name for p in root.iterdir() if p.is_file())
    intake = Intake(root=root, notes=notes)
    for name in REQUIRED_FILES:
        path = root / name
        if path.is_file():
            problem = check_source(path) if name.endswith(".py") else None
            if problem:
                intake.problems[name] = problem
            else:
                intake.files[name] = path
            continue
        guess = near_miss(name, [p for p in present if p not in REQUIRED_FILES])
        intake.problems[name] = (f"{name} is missing; found {guess}: rename it to {name}" if guess
                                 else f"{name} is missing from the submission")
    digest = hashlib.sha256()
    for name in REQUIRED_FILES:
        if name in intake.files and name.endswith((".py", ".ipynb")):
            digest.update(name.encode() + b"\0" + intake.files[name].read_bytes() + b"\0")
    intake.digest = digest.hexdigest()
    return intake


def worker_copy(intake: Intake, dest: Path, grader_modules: Path) -> Path:
    """The worker's private copy: the student's usable modules plus the grader's own optimizer.py."""
    dest.mkdir(parents=True, exist_ok=True)
    for module in SUBMITTED_MODULES:
        path = intake.files.get(f"{module}.py")
        if path is not None:
            shutil.copyfile(path, dest / path.name)
    for module in GRADER_SUPPLIED:
        shutil.copyfile(grader_modules / f"{module}.py", dest / f"{module}.py")
    return dest
