"""The content-hash cache of extracted files.

The API, for the extract stage (and any reader of archive members):

* `file_digest(path)` / `bytes_digest(data)`: the sha256 of a file's or a member's content;
* `ExtractionCache(cache_dir, extractor_version)`: `key = cache.cache_key(source_file,
  digests)`, `cache.get(key)` -> FileExtraction or None, `cache.put(key, extraction)`,
  `cache.verify(key)`, `cache.prune(keep)`.

A key is the sha256 of the record schema, the extractor version (pipeline.infra.versions:
the hash of the source of the modules extraction depends on), the entry's name
(`source_file`) and the content digests (the file, then each companion file that affects
how it is read). An entry carries the sha256 of its content, checked on use: a damaged
entry is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.infra.atomic import atomic_write_bytes
from pipeline.infra.digests import bytes_digest as bytes_digest
from pipeline.infra.digests import file_digest as file_digest
from pipeline.records import (
    FileExtraction,
    FileValues,
    Label,
    LabelRow,
    ReadIssue,
    Rejection,
    extraction_values,
    field_names,
    values_extraction,
)

logger = logging.getLogger(__name__)


#: A pack of entries (`ExtractionCache.put_many`): several small files' readings in one file.
PACK_SUFFIX = ".pack"

#: Field names of every record stored in the cache: a change to pipeline/records.py
#: changes every key, so entries of an older shape are never read back.
_RECORD_SCHEMA = {
    record_type.__name__: field_names(record_type)
    for record_type in (FileExtraction, Label, LabelRow, ReadIssue, Rejection)
}

#: How an entry stores its records (`extraction_to_json`), in every key: entries of another
#: format are never read back (this module is not in the extractor version).
ENTRY_FORMAT = "field-value-lists"


def cache_key(source_file: str, digests: Sequence[str], *, extractor_version: str) -> str:
    """The cache key of one label file (sha256 hex).

    It changes when the extractor version, the record schema, the entry format, the file's
    relative path (`source_file`, forward slashes) or any of `digests` changes. `digests` are the
    `file_digest` of the file first, then of each companion file that affects how it is
    read (in a stable order: the order matters).
    """
    if isinstance(digests, str):
        raise TypeError("digests must be a sequence of digests, not one string")
    # json.dumps(["labelaudit-extraction", extractor_version, _RECORD_SCHEMA, ENTRY_FORMAT,
    # source_file, list(digests)], sort_keys=True, separators=(",", ":")), its constant
    # head made once.
    if isinstance(source_file, str) and all(isinstance(d, str) for d in digests):
        # json.dumps of a string is encode_basestring_ascii's (the C encoder json.dumps uses)
        payload = "".join(
            [
                _key_head(extractor_version),
                _quoted(source_file),
                ",[",
                ",".join(map(_quoted, digests)),
                "]]",
            ]
        )
    else:
        payload = "".join(
            [
                _key_head(extractor_version),
                json.dumps(source_file),
                ",",
                json.dumps(list(digests), separators=(",", ":")),
                "]",
            ]
        )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_quoted = json.encoder.encode_basestring_ascii


@functools.lru_cache(maxsize=8)
def _key_head(extractor_version: str) -> str:
    head = json.dumps(
        ["labelaudit-extraction", extractor_version, _RECORD_SCHEMA, ENTRY_FORMAT],
        sort_keys=True,
        separators=(",", ":"),
    )
    return head[:-1] + ","


def _nested(value: Any) -> Any:
    """json.dumps' `default`: a dataclass held in a record field as `dataclasses.asdict`
    gives it (records are flat: their fields are plain values)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def extraction_to_json(extraction: FileExtraction) -> dict[str, Any]:
    """A FileExtraction as JSON values: each record as the list of its field values in field
    order (`field_names`; the names are in every cache key, `_RECORD_SCHEMA`): a name-value
    object a record was most of an entry's bytes and of the cost of writing it."""
    return values_to_json(extraction_values(extraction))


def values_to_json(values: FileValues) -> dict[str, Any]:
    """`extraction_to_json` of the extraction `values` are of (records as tuples)."""
    return {
        "source_file": values.source_file,
        "labels": values.labels,
        "rows": values.rows,
        "issues": values.issues,
        "rejection": values.rejection,
    }


def extraction_bytes(extraction: FileExtraction) -> bytes:
    """The JSON text of `extraction_to_json(extraction)`, UTF-8."""
    return values_bytes(extraction_values(extraction))


def values_bytes(values: FileValues) -> bytes:
    """`extraction_bytes` of the extraction `values` are of."""
    text = json.dumps(values_to_json(values), ensure_ascii=False, default=_nested)
    return text.encode("utf-8")


@functools.cache
def _count(record_type: type) -> int:
    return len(field_names(record_type))


def _tuples(record_type: type, data: Any) -> tuple[tuple[Any, ...], ...]:
    if not isinstance(data, list):
        raise ValueError(f"not a list of {record_type.__name__}: {data!r}")
    count = _count(record_type)
    for values in data:
        if not isinstance(values, list) or len(values) != count:
            raise ValueError(f"not a {record_type.__name__}: {values!r}")
    return tuple(map(tuple, data))


def values_from_json(data: Any) -> FileValues:
    """`extraction_from_json` as field values (no records made); ValueError/TypeError if
    `data` is not an entry's JSON."""
    if not isinstance(data, dict) or set(data) != set(field_names(FileExtraction)):
        raise ValueError("not a FileExtraction")
    source_file = data["source_file"]
    if not isinstance(source_file, str):
        raise ValueError("source_file is not a string")
    rejection = data["rejection"]
    return FileValues(
        source_file,
        _tuples(Label, data["labels"]),
        _tuples(LabelRow, data["rows"]),
        _tuples(ReadIssue, data["issues"]),
        None if rejection is None else _tuples(Rejection, [rejection])[0],
    )


def extraction_from_json(data: Any) -> FileExtraction:
    """The inverse of `extraction_to_json`; ValueError/TypeError if `data` is not one."""
    return values_extraction(values_from_json(data))


#: A cache key: lower-case hex digits.
_KEY = re.compile("[0-9a-f]+")


def _slug(text: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
    return safe.strip(".") or "_"


class ExtractionCache:
    """What each label file gave, keyed by `cache_key`, one JSON file per entry.

    Entries live in `cache_dir / "extract-v<extractor_version>" / "<key>.json"`; the
    version is also part of the key, so new code misses everything (and `prune` then
    removes the old version's folder). An unreadable or corrupt entry is a miss, never
    an error; a failed write is logged and the run goes on (the cache only saves time).

    Counters for this run: `hits`, `misses` (`corrupt` of the misses were unreadable
    entries) and `writes`. Typical use in the extract stage::

        cache = ExtractionCache(work.cache_dir, versions.extractor_version())
        key = cache.cache_key(rel, [file_digest(path)])
        extraction = cache.get(key)
        if extraction is None:
            extraction = read_file(path)          # in a worker
            cache.put(key, extraction)
        ...
        cache.prune(keys_of_this_run)
    """

    def __init__(self, cache_dir: Path, extractor_version: str) -> None:
        self.cache_dir = Path(cache_dir)
        self.extractor_version = extractor_version
        self.entries_dir = self.cache_dir / f"extract-v{_slug(extractor_version)}"
        self._entries_text = str(self.entries_dir)
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.writes = 0
        self._pack_index: dict[str, tuple[Path, int, int, str]] | None = None
        self._last_pack: tuple[Path, bytes | None] | None = None

    def cache_key(self, source_file: str, digests: Sequence[str]) -> str:
        """`cache_key` with this cache's extractor version."""
        return cache_key(source_file, digests, extractor_version=self.extractor_version)

    def _entry_path(self, key: str) -> Path:
        return Path(self._entry_name(key))

    def _entry_name(self, key: str) -> str:
        """`_entry_path` as text (a Path is made only for an entry that is there)."""
        if not isinstance(key, str) or _KEY.fullmatch(key) is None:
            raise ValueError(f"not a cache key: {key!r}")
        return f"{self._entries_text}/{key}.json"

    def _sound_body(self, key: str, path: Path, raw: bytes) -> bytes | None:
        """The entry's extraction JSON if its header matches `key` and its checksum the
        body; else None, with a warning naming what is wrong."""
        header_text, newline, body = raw.partition(b"\n")
        try:
            header = json.loads(header_text.decode("utf-8")) if newline else None
        except (ValueError, UnicodeDecodeError):
            header = None
        if (
            not isinstance(header, dict)
            or header.get("key") != key
            or header.get("extractor_version") != self.extractor_version
            or not isinstance(header.get("sha256"), str)
        ):
            logger.warning("cache entry %s is damaged: the file is read again", path)
            return None
        if hashlib.sha256(body).hexdigest() != header["sha256"]:
            logger.warning(
                "cache entry %s does not match its checksum (damaged or edited): "
                "the file is read again",
                path,
            )
            return None
        return body

    def _raw(self, path: Path | str) -> bytes | None:
        try:
            with open(path, "rb") as handle:  # (Path.read_bytes, of a path or its text)
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cache entry %s is unreadable (%s): the file is read again", path, exc)
            return None

    def _body(self, key: str) -> tuple[Path, bytes | None] | None:
        """Where the entry for `key` is and its sound body (None: damaged, with a
        warning); None if there is no entry for it."""
        name = self._entry_name(key)
        raw = self._raw(name)
        if raw is not None:
            path = Path(name)
            return path, self._sound_body(key, path, raw)
        found = self._packs().get(key)
        if found is None:
            return None
        pack, offset, length, digest = found
        data = self._pack_bytes(pack)
        body = None if data is None else data[offset : offset + length]
        if body is None or len(body) != length or hashlib.sha256(body).hexdigest() != digest:
            logger.warning(
                "cache entry %s in %s does not match its checksum (damaged or edited): "
                "the file is read again",
                key,
                pack,
            )
            return pack, None
        return pack, body

    def verify(self, key: str) -> bool:
        """Whether a sound entry for `key` is in the cache (present, its header matching
        and its checksum right), without parsing it. A broken entry is a miss (with a
        warning), and is counted in `corrupt`."""
        found = self._body(key)
        if found is None:
            return False
        if found[1] is None:
            self.corrupt += 1
            return False
        return True

    def get(self, key: str) -> FileExtraction | None:
        """The cached extraction for `key`, or None (a miss) if absent, unreadable, not of
        this key or not matching its checksum (a warning says which: the file is read
        again)."""
        values = self.get_values(key)
        return None if values is None else values_extraction(values)

    def get_values(self, key: str) -> FileValues | None:
        """`get`, as field values (pipeline.records.FileValues: no records made)."""
        found = self._body(key)
        if found is None:
            self.misses += 1
            return None
        path, body = found
        try:
            if body is None:
                raise ValueError("checked")
            values = values_from_json(json.loads(body.decode("utf-8")))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            if body is not None:
                logger.warning("cache entry %s is damaged (%s): the file is read again", path, exc)
            self.misses += 1
            self.corrupt += 1
            return None
        self.hits += 1
        return values

    def put(self, key: str, extraction: FileExtraction, *, warn: bool = True) -> str | None:
        """Store `extraction` under `key` (atomically). An OSError is not raised: it is
        logged (with `warn`) and returned, as one line; None when stored.

        An entry is a header line (JSON: key, extractor version, the sha256 of the rest)
        and the extraction's JSON: a reader checks the one against the other."""
        return self.put_values(key, extraction_values(extraction), warn=warn)

    def put_values(self, key: str, values: FileValues, *, warn: bool = True) -> str | None:
        """`put` of the extraction `values` are of (the same entry)."""
        path = self._entry_path(key)
        body = values_bytes(values)
        header = {
            "key": key,
            "extractor_version": self.extractor_version,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        try:
            # no fsync: an entry is checked on use (two fsyncs were 18 ms an entry)
            data = json.dumps(header).encode("utf-8") + b"\n" + body
            atomic_write_bytes(path, data, durable=False)
        except OSError as exc:
            if warn:
                logger.warning("could not write cache entry %s: %s", path, exc)
            return exc.strerror or str(exc)
        self.writes += 1
        return None

    def put_many(self, entries: Sequence[tuple[str, FileExtraction]]) -> str | None:
        """Store several extractions, each under its own key, in one pack file (one entry
        file each was most of a small file's cost: creating a file is ~0.8 ms of kernel
        time here). A pack is a header line (JSON: the extractor version and, per entry,
        its key, offset, length and sha256) and the entries' JSON one after the other;
        `get` finds an entry in it by its key. Errors as `put`'s (not logged)."""
        return self.put_many_values([(k, extraction_values(e)) for k, e in entries])

    def put_many_values(self, entries: Sequence[tuple[str, FileValues]]) -> str | None:
        """`put_many` of the extractions the values are of (the same entries)."""
        if len(entries) == 1:
            return self.put_values(*entries[0], warn=False)
        if not entries:
            return None
        return self._write_pack([(k, values_bytes(v)) for k, v in entries])

    def _write_pack(self, entries: Sequence[tuple[str, bytes]]) -> str | None:
        index, offset = [], 0
        for key, body in entries:
            self._entry_path(key)  # (a key, checked)
            index.append([key, offset, len(body), hashlib.sha256(body).hexdigest()])
            offset += len(body)
        header = {"extractor_version": self.extractor_version, "entries": index}
        name = hashlib.sha256("\n".join(k for k, _ in entries).encode()).hexdigest()
        try:
            data = b"".join([json.dumps(header).encode("utf-8"), b"\n", *(b for _, b in entries)])
            atomic_write_bytes(self.entries_dir / f"{name}{PACK_SUFFIX}", data, durable=False)
        except OSError as exc:
            return exc.strerror or str(exc)
        self.writes += len(entries)
        self._pack_index = None
        return None

    def _packs(self) -> dict[str, tuple[Path, int, int, str]]:
        """Every packed entry: key -> (pack, offset, length, sha256); read from the packs'
        header lines once (a pack whose header is unreadable is skipped, with a warning:
        its entries are misses)."""
        if self._pack_index is not None:
            return self._pack_index
        index: dict[str, tuple[Path, int, int, str]] = {}
        packs = (
            sorted(self.entries_dir.glob(f"*{PACK_SUFFIX}")) if self.entries_dir.is_dir() else []
        )
        for pack in packs:
            try:
                with pack.open("rb") as fh:
                    header = json.loads(fh.readline().decode("utf-8"))
                    start = fh.tell()
                if header["extractor_version"] != self.extractor_version:
                    raise ValueError("another extractor version")
                for key, offset, length, digest in header["entries"]:
                    index[str(key)] = (pack, start + int(offset), int(length), str(digest))
            except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
                logger.warning("cache pack %s is damaged (%s): its files are read again", pack, exc)
        self._pack_index = index
        return index

    def _pack_bytes(self, pack: Path) -> bytes | None:
        """The whole pack (the last one read is kept: inputs come in order, a pack's
        entries one after the other)."""
        if self._last_pack is None or self._last_pack[0] != pack:
            self._last_pack = (pack, self._raw(pack))
        return self._last_pack[1]

    def _prune_packs(self, keep: set[str]) -> int:
        """Delete the packs none of whose entries are kept; a pack with fewer than half
        of its entries kept is written again with those only. Returns entries deleted."""
        index = self._packs()
        by_pack: dict[Path, list[str]] = {}
        for key, (pack, *_) in index.items():
            by_pack.setdefault(pack, []).append(key)
        removed = 0
        for pack, keys in by_pack.items():
            live = [k for k in keys if k in keep]
            if len(live) * 2 >= len(keys):
                continue
            data = (self._raw(pack) if live else None) or b""
            sound = []
            for key in live:
                _, offset, length, digest = index[key]
                body = data[offset : offset + length]
                if len(body) == length and hashlib.sha256(body).hexdigest() == digest:
                    sound.append((key, body))
            if sound and self._write_pack(sound) is not None:
                continue  # could not write the smaller pack: keep this one
            with contextlib.suppress(FileNotFoundError):
                pack.unlink()
            removed += len(keys) - len(sound)
        self._pack_index = self._last_pack = None
        return removed

    def prune(self, keep: set[str]) -> int:
        """Delete every entry whose key is not in `keep`, other versions' folders and
        temp files left by killed runs. Returns the number of entries deleted."""
        removed = 0
        if not self.cache_dir.is_dir():
            return 0
        for child in self.cache_dir.iterdir():
            if child.is_dir() and child.name.startswith("extract-v") and child != self.entries_dir:
                removed += sum(1 for p in child.glob("*.json"))
                shutil.rmtree(child, ignore_errors=True)
        if not self.entries_dir.is_dir():
            return removed
        removed += self._prune_packs(keep)
        for entry in self.entries_dir.iterdir():
            is_temp = entry.name.startswith(".") and entry.name.endswith(".tmp")
            unused = entry.name.endswith(".json") and entry.stem not in keep
            if not (is_temp or unused):
                continue
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
            removed += unused
        return removed
