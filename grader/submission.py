"""Submission intake: a folder or a PA3.zip, unpacked safely, checked file by file.

Every zip entry is checked before anything is written: no absolute paths or ``..``,
no symlinks or special files, no encrypted entries, limits on entry count (read from the
zip's end record before anything is listed), depth, name length, sizes and compression
ratio (declared sizes are also enforced while reading, since headers can lie). A folder
is walked without recursion through directory fds (``fstree.walk``), under the same
bounds, never following a link nor opening a fifo. Required files go first, so no limit
crowds them out. Whatever is refused is noted, grouped by reason; nothing here raises
but SubmissionError (and ``grade`` turns anything else into a message too).
A missing, misnamed or non-compiling file is reported by name; the tests that need
it fail with that message while the rest are graded.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import shutil
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import fstree
from test_specs.contract import GRADER_SUPPLIED, REQUIRED_FILES, SUBMITTED_MODULES
from test_specs.support import loops

JUNK_PARTS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
MAX_ENTRIES = 2000           # files kept
MAX_FILE = 50 << 20          # one file (a notebook with outputs can be large)
MAX_TOTAL = 200 << 20        # everything kept
MAX_RATIO = 200              # uncompressed / compressed, for entries over 1 MiB
MAX_SOURCE = 1 << 20         # a graded .py file
MAX_ZIP_ENTRIES = 20_000     # entries a zip may declare at all (each costs memory to list)
MAX_CENTRAL_DIRECTORY = 8 << 20  # bytes of a zip's table of contents
MAX_REPAIR = 64 << 20       # a zip whose names need repair is read into memory: up to this size
BOUNDS = fstree.Bounds(max_depth=32, max_entries=MAX_ZIP_ENTRIES, max_path=1024)


class SubmissionError(Exception):
    """The submission cannot be read at all (not a zip, an unreadable table of contents)."""


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
    return any(p in JUNK_PARTS or p.startswith("._") for p in parts) or bool(parts and parts[-1] in JUNK_NAMES)


def _safe_name(name: str) -> PurePosixPath | None:
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts or "\x00" in name:
        return None
    return path


def _priority(parts: tuple[str, ...]) -> tuple:
    """Required files first, shallow before deep: the limits never crowd out the files that matter."""
    return (parts[-1] not in REQUIRED_FILES, len(parts), parts)


def _write(target_root: Path, parts: tuple[str, ...], data: bytes) -> None:
    target = target_root.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as out:
        out.write(data)


class _Kept:
    """Running totals against MAX_ENTRIES and MAX_TOTAL."""

    def __init__(self, refused: fstree.Refusals) -> None:
        self.count, self.total, self.refused = 0, 0, refused

    def admit(self, parts: tuple[str, ...], size: int) -> bool:
        if size > MAX_FILE:
            self.refused.add(f"larger than {MAX_FILE} bytes", parts)
        elif self.total + size > MAX_TOTAL:
            self.refused.add(f"the submission would exceed {MAX_TOTAL} bytes", parts)
        elif self.count >= MAX_ENTRIES:
            self.refused.add(f"more than {MAX_ENTRIES} files", parts)
        else:
            self.count += 1
            self.total += size
            return True
        return False


def _zip_table_size(archive: Path) -> tuple[int, int] | None:
    """(entries, bytes) the zip's end record declares, read before zipfile lists anything."""
    try:
        with open(archive, "rb") as fp:
            end = zipfile._EndRecData(fp)  # noqa: SLF001 - the stdlib's own reader of that record
    except (OSError, ValueError, struct.error):
        return None
    if not end:
        return None
    return end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # noqa: SLF001


def _unflag_bad_utf8(archive: Path) -> bytes:
    """The archive with the UTF-8 flag cleared on central-directory names that are not UTF-8."""
    if archive.stat().st_size > MAX_REPAIR:
        raise SubmissionError(f"{archive.name} has file names that are not valid UTF-8")
    data = bytearray(archive.read_bytes())
    end = zipfile._EndRecData(io.BytesIO(data))  # noqa: SLF001
    pos = end[zipfile._ECD_LOCATION] - end[zipfile._ECD_SIZE]  # noqa: SLF001
    header = struct.Struct(zipfile.structCentralDir)
    while 0 <= pos and pos + header.size <= len(data) and data[pos:pos + 4] == zipfile.stringCentralDir:
        fields = header.unpack_from(data, pos)
        start = pos + header.size
        name = bytes(data[start:start + fields[zipfile._CD_FILENAME_LENGTH]])  # noqa: SLF001
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            struct.pack_into("<H", data, pos + 8, fields[zipfile._CD_FLAG_BITS] & ~0x800)  # noqa: SLF001
        pos = start + sum(fields[i] for i in (zipfile._CD_FILENAME_LENGTH, zipfile._CD_EXTRA_FIELD_LENGTH,  # noqa: SLF001
                                              zipfile._CD_COMMENT_LENGTH))  # noqa: SLF001
    return bytes(data)


def unpack_zip(archive: Path, dest: Path, notes: list[str]) -> None:
    """Extract the safe, non-junk entries of ``archive`` into ``dest``; note every entry refused."""
    declared = _zip_table_size(archive)
    if declared and (declared[0] > MAX_ZIP_ENTRIES or declared[1] > MAX_CENTRAL_DIRECTORY):
        raise SubmissionError(f"{archive.name} declares {declared[0]} entries in {declared[1]} bytes "
                              f"(limit {MAX_ZIP_ENTRIES} entries, {MAX_CENTRAL_DIRECTORY} bytes): "
                              f"zip only your own files (pa3 pack does)")
    refused = fstree.Refusals()
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except UnicodeDecodeError:  # an entry flagged UTF-8 whose name is not: read that name as cp437 instead
            zf = zipfile.ZipFile(io.BytesIO(_unflag_bad_utf8(archive)))
            refused.add("the name is not valid UTF-8", f"{archive.name}: names read as cp437")
    except Exception as exc:  # noqa: BLE001 - zipfile raises many kinds (BadZipFile, UnicodeDecodeError, ...)
        raise SubmissionError(f"{archive.name} is not a readable zip file ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise SubmissionError(f"{archive.name} has {len(infos)} entries (limit {MAX_ZIP_ENTRIES})")
        candidates = []
        for info in infos:                                     # 1. check everything
            path = _safe_name(info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if path is None:
                refused.add("the path leaves the submission folder", info.filename)
                continue
            parts = tuple(p for p in path.parts if p not in ("", "."))
            if not parts or _junk(parts):
                continue
            if stat.S_ISLNK(mode):
                refused.add("symbolic links are not accepted", info.filename)
            elif mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                refused.add("not a regular file (fifo, device or socket)", info.filename)
            elif info.flag_bits & 0x1:
                refused.add("encrypted", info.filename)
            elif len(parts) - 1 > BOUNDS.max_depth:
                refused.add(f"folder nested deeper than {BOUNDS.max_depth} levels", info.filename)
            elif (any(len(p.encode()) > fstree.NAME_MAX for p in parts)
                  or len("/".join(parts).encode()) > BOUNDS.max_path):
                refused.add("the name or path is too long", info.filename)
            elif info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                refused.add(f"compression ratio over {MAX_RATIO} (zip bomb?)", info.filename)
            else:
                candidates.append((parts, info))
        kept = _Kept(refused)
        accepted = [(parts, info) for parts, info in sorted(candidates, key=lambda c: _priority(c[0]))
                    if kept.admit(parts, info.file_size)]
        for parts, info in accepted:                           # 2. then write
            try:
                with zf.open(info) as src:
                    data = src.read(info.file_size + 1)        # headers can lie: never more than declared
                if len(data) > info.file_size:
                    raise SubmissionError("more data than its header declares")
                _write(dest, parts, data)
            except OSError as exc:  # clashing names (a file where a folder must go), ...: no grader paths shown
                refused.add(f"cannot be written ({exc.strerror or type(exc).__name__})", info.filename)
            except Exception as exc:  # noqa: BLE001 - a bad entry (CRC, names, ...) is refused, not fatal
                refused.add(f"{type(exc).__name__}: {str(exc)[:120]}", info.filename)
    notes += refused.notes()


def copy_folder(source: Path, dest: Path, notes: list[str]) -> None:
    """Copy the regular files of a submission folder (no links, no special files, same limits as a zip)."""
    report = fstree.WalkReport()
    ordered = sorted((entry.parts for entry in fstree.walk(source, BOUNDS, report, skip=_junk, wanted=REQUIRED_FILES)),
                     key=_priority)
    for parts in ordered[MAX_ENTRIES:]:
        report.refused.add(f"more than {MAX_ENTRIES} files", parts)
    wanted = set(ordered[:MAX_ENTRIES])
    kept = _Kept(report.refused)
    for entry in fstree.walk(source, BOUNDS, fstree.WalkReport(), skip=_junk, wanted=REQUIRED_FILES):
        if entry.parts not in wanted or not kept.admit(entry.parts, entry.size):
            continue
        try:
            data = fstree.read_file(entry, MAX_FILE)
            if len(data) > MAX_FILE:
                raise OSError(f"grew past {MAX_FILE} bytes while being read")
            _write(dest, entry.parts, data)
        except OSError as exc:
            report.refused.add(f"cannot be read ({exc.strerror or exc})", entry.parts)
    notes += report.refused.notes()
    if report.truncated:
        notes.append(f"only the first {BOUNDS.max_entries} entries of the submission folder were looked at")


def find_root(unpacked: Path) -> Path:
    """The folder holding the submission: the top, or the one folder (at any depth) with the most required files."""
    required = {name.lower() for name in REQUIRED_FILES}

    def score(folder: Path) -> int:
        try:
            return sum(1 for p in folder.iterdir() if p.name.lower() in required and p.is_file())
        except OSError:
            return 0

    folders = sorted(fstree.all_folders(unpacked))
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
        loops.parse(source)  # bounded, and cached for the spec checks that read the same source
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = (exc.text or "").strip()[:200]
        return f"{path.name} does not compile: {exc.msg} ({where}{': ' + text if text else ''})"
    except loops.TooComplex as exc:
        return f"{path.name} cannot be parsed: {exc}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{path.name} cannot be parsed: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def take(source: Path, unpacked: Path) -> Intake:
    """Receive ``source`` (folder or zip) into ``unpacked`` and check the required files."""
    notes: list[str] = []
    source = Path(source)
    if source.is_dir():
        copy_folder(source, unpacked, notes)
    elif source.is_file():
        unpack_zip(source, unpacked, notes)
    elif source.exists():
        raise SubmissionError(f"{source} is neither a folder nor a zip file")
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
