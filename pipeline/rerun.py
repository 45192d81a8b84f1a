"""An unchanged run: nothing a report is made of changed, so the previous report is kept.

A run that writes its report records in the work folder (`work/.audit.done`, `record_text`)
the run key it was made from (`run_key`) and the size and modification time of every file
of the report it wrote (audit.html, audit.json, ranking.csv and, at catalog scale, every
card page under products/). The next run computes its key first; when it is the recorded
one and every recorded file is there with the same size and modification time, nothing is
read, normalized, validated or written: the run is the key (a walk of the labels folder,
each file's digest, a zip's central directory) plus start-up, and its history line says
`"unchanged": true`.

The key is every input's content key (a file's sha256, a zip member's CRC-32 and size as
the zip's central directory records them, the same key extraction uses), what is listed
and not read (with why), the corrections file, the protocol, the per-file limits, the OCR
engine, the tool's version, the sha256 of every file of the package (its code, templates
and data: a change anywhere redoes the run, and the stages' own keys then decide what to
redo) and the libraries' versions.

A record is only written when that run's report lists no change since the run before it
(an unchanged rerun would list none, so the kept report is the one it would write), when
its extraction cached every input (a file over a limit or lost by its worker is read again
next run), and never with --full or --data-docs. This module is light (no pandas).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pipeline import __version__, config
from pipeline.infra import versions
from pipeline.infra.digests import file_digest

#: The record's name in the work folder.
RECORD_NAME = ".audit.done"
#: The top-level keys of audit.json the record keeps (the rest is read from audit.json
#: only if asked for: `ReusedAudit`).
LIGHT_KEYS = ("generated_at", "labels_dir", "tool_version", "protocol_file", "summary", "changes")
#: Work files that are not kept pieces: the record, the lock, and run.json (what the last
#: run did: every run that is not unchanged writes it anew before reading it).
_NOT_KEPT = frozenset(
    {RECORD_NAME, config.WorkPaths(Path(".")).lock.name, config.WorkPaths(Path(".")).run_meta.name}
)


def record_path(work_root: Path) -> Path:
    return work_root / RECORD_NAME


def package_version(root: Path = config.PACKAGE_DIR) -> str:
    """The sha256 of every file of the package (path and bytes) and of the versions of
    every library a stage's results depend on (pipeline.infra.versions.STAGES) and of
    Python's (pipeline.infra.versions.package_version_of; once a process for the package)."""
    if root == config.PACKAGE_DIR:
        return versions.package_version()
    return versions.package_version_of(root)


def archive_digest(path: Path) -> str:
    """A zip's content key from its central directory alone: each member's name, CRC-32
    and size (what extraction keys a member by); a file that is not a zip: its sha256."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                digest.update(f"{info.filename}\0{info.CRC:08x}\0{info.file_size}\n".encode())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return "not-a-zip:" + file_digest(path)
    return "zip:" + digest.hexdigest()


def input_digest(path: Path) -> str:
    """The content key of one input file (a zip: `archive_digest`); "unreadable: ..."
    when it cannot be read (the run then reads it, to say why)."""
    try:
        if path.suffix.lower().lstrip(".") in config.ARCHIVE_SUFFIXES:
            return archive_digest(path)
        return file_digest(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def run_key(
    *,
    labels: Iterable[tuple[str, Path]],
    not_labels: Iterable[tuple[str, str]],
    labels_dir: Path,
    reports_dir: Path,
    protocol: str,
    limits: config.FileLimits,
) -> str:
    """The key of a run: `labels` (source name, path) of every label file, `not_labels`
    (name, reason) of everything else found, the corrections file, `protocol` (its repr),
    `limits`, the OCR engine and the code (`package_version`)."""
    corrections = labels_dir / config.CORRECTIONS_FILE
    parts: dict[str, Any] = {
        "tool": __version__,
        "code": package_version(),
        "ocr_engine": config.ocr_engine(),
        "labels_dir": [str(labels_dir), str(labels_dir.resolve())],
        "reports_dir": str(reports_dir.resolve()),
        "protocol": protocol,
        "limits": repr(limits),
        "corrections": input_digest(corrections) if corrections.is_file() else None,
        "inputs": [[name, input_digest(path)] for name, path in labels],
        "not_labels": [list(item) for item in not_labels],
    }
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def report_files(reports_dir: Path) -> list[Path]:
    """The files of the report under `reports_dir`: the three files and every file of
    the card folder (pipeline.report_catalog) if there is one."""
    paths = config.ReportPaths(reports_dir)
    files = [paths.html, paths.json, paths.ranking_csv]
    if paths.products_dir.is_dir():
        files += sorted(p for p in paths.products_dir.iterdir() if p.is_file())
    return files


def file_stats(reports_dir: Path) -> dict[str, list[int]] | None:
    """{path under `reports_dir`: [size, modification time in ns]} of `report_files`,
    or None when one of the three files is missing."""
    stats: dict[str, list[int]] = {}
    for path in report_files(reports_dir):
        try:
            info = path.stat()
        except OSError:
            return None
        stats[path.relative_to(reports_dir).as_posix()] = [info.st_size, info.st_mtime_ns]
    return stats


def work_stats(work_root: Path) -> dict[str, list[int]]:
    """[size, modification time in ns] of every file the stages keep in the work folder
    (its top level: the tables, the done markers, the report pieces, the chart, the
    validation state; not the record, the lock or temp files): a kept piece that was
    damaged or removed is one the next run must check, so that run is done in full."""
    stats: dict[str, list[int]] = {}
    with contextlib.suppress(OSError), os.scandir(work_root) as entries:
        for entry in entries:
            name = entry.name
            if name in _NOT_KEPT or name.endswith(".tmp"):
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    stats[name] = [info.st_size, info.st_mtime_ns]
    return dict(sorted(stats.items()))


def _checksum(fields: Mapping[str, Any]) -> str:
    text = json.dumps({k: v for k, v in fields.items() if k != "sha256"}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_text(
    key: str,
    work_root: Path,
    reports_dir: Path,
    audit: Mapping[str, Any],
    history: Mapping[str, Any],
) -> str | None:
    """The record of a run that wrote `audit` into `reports_dir` from inputs of `key`
    (None when a report file is missing): the key, the report's and the work folder's
    files' stats, the light part of `audit` and the run's history line, with a checksum."""
    stats = file_stats(reports_dir)
    if stats is None:
        return None
    fields: dict[str, Any] = {
        "key": key,
        "reports_dir": str(reports_dir.resolve()),
        "files": stats,
        "work_files": work_stats(work_root),
        "audit": {k: audit.get(k) for k in LIGHT_KEYS},
        "history": dict(history),
    }
    fields["sha256"] = _checksum(fields)
    # ASCII: a label file name that is not UTF-8 (kept as surrogates) cannot be encoded
    return json.dumps(fields, default=str) + "\n"


def read_record(work_root: Path, reports_dir: Path) -> dict[str, Any] | None:
    """The record, if it is there, matches its checksum, is of `reports_dir`, and every
    file of the report and of the work folder it names is there with its recorded size and
    modification time, and no other is (else None: the run is done in full)."""
    try:
        record = json.loads(record_path(work_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("sha256") != _checksum(record):
        return None
    if record.get("reports_dir") != str(reports_dir.resolve()):
        return None
    if file_stats(reports_dir) != record.get("files"):
        return None
    if work_stats(work_root) != record.get("work_files"):
        return None
    return record


def forget(work_root: Path) -> None:
    """Remove the record (a run that writes the report writes a new one, or none)."""
    with contextlib.suppress(FileNotFoundError):
        record_path(work_root).unlink()


def changes_empty(audit: Mapping[str, Any]) -> bool:
    changes = audit.get("changes") or {}
    return isinstance(changes, Mapping) and not any(changes.values())


class ReusedAudit(Mapping[str, Any]):
    """The audit document of an unchanged run: the record's light part (LIGHT_KEYS); any
    other key is read from the kept audit.json the first time it is asked for."""

    def __init__(self, light: Mapping[str, Any], audit_json: Path) -> None:
        self._light = dict(light)
        self._path = audit_json
        self._full: dict[str, Any] | None = None

    def _document(self) -> dict[str, Any]:
        if self._full is None:
            full = json.loads(self._path.read_text(encoding="utf-8"))
            self._full = {**full, **self._light} if isinstance(full, dict) else dict(self._light)
        return self._full

    def __getitem__(self, key: str) -> Any:
        if key in self._light:
            return self._light[key]
        return self._document()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._document())

    def __len__(self) -> int:
        return len(self._document())
