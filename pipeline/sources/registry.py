"""The reader registry: which reader reads which input, found by its name.

Each reader module (one per input format) registers a `Reader` at import: the suffixes it
reads, a function from bytes plus a name to a `FileExtraction`, and, for a format whose
files come with companions (a DSLD ProductOverview.csv beside its export), how to tell a
companion by its first bytes. The extract stage never opens a reader module itself: it
hands each input (a file under the labels folder, or a member of a zip in it) to
`read_input` with its bytes and the companions of the same folder or archive folder, so a
reader never lists a folder to find them.

Adding an input format: a module under pipeline/sources/ that calls `register`, and its
name and suffixes (a set in pipeline.config) in `READER_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline import config
from pipeline.records import FileExtraction, FileValues, extraction_values
from pipeline.sources import read_bytes


@dataclass(frozen=True)
class Member:
    """One input handed to a reader: its name (the path under the labels folder, or the
    member's name in its archive) and its bytes."""

    name: str
    data: bytes


#: read(data, name, source_file, companions) -> FileExtraction; raises a LabelError.
ReadFn = Callable[[bytes, str, str, Sequence[Member]], FileExtraction]
#: The same reading as field values (pipeline.records.FileValues).
ReadValuesFn = Callable[[bytes, str, str, Sequence[Member]], FileValues]


@dataclass(frozen=True)
class Reader:
    """An input format: `suffixes` (lower case, no dot) it reads with `read`; `is_companion`
    (given a name and the input's first `COMPANION_HEAD_BYTES` bytes) tells an input that
    is not read alone but with the files beside it (None: the format has no companions);
    `read_values`, where given, is `read` as field values, made without the records (the
    extract stage's workers hand on values: `read_input_values`)."""

    format: str
    suffixes: frozenset[str]
    read: ReadFn
    is_companion: Callable[[str, bytes], bool] | None = None
    read_values: ReadValuesFn | None = None


#: The reader modules and the suffixes (pipeline.config) each registers: a module is
#: imported when an input of its suffixes is first read or planned, so a run of JSON
#: labels never imports pdfplumber or Pillow (~0.4 s of CPU, in every worker).
READER_MODULES: dict[str, frozenset[str]] = {
    "pipeline.sources.pdf": config.PDF_SUFFIXES,
    "pipeline.sources.csv": config.CSV_SUFFIXES,
    "pipeline.sources.dsld_json": config.JSON_SUFFIXES,
    "pipeline.sources.image": config.IMAGE_SUFFIXES,
}

#: How much of an input `Reader.is_companion` is shown.
COMPANION_HEAD_BYTES = 65536

_READERS: dict[str, Reader] = {}


def register(reader: Reader) -> Reader:
    """Make `reader` the reader of its suffixes (called by each reader module)."""
    for suffix in reader.suffixes:
        _READERS[suffix] = reader
    return reader


def _load(suffix: str) -> None:
    """Import the reader module of `suffix` (once)."""
    if suffix not in _READERS:
        for module, suffixes in READER_MODULES.items():
            if suffix in suffixes:
                importlib.import_module(module)


def suffix_of(name: str) -> str:
    """PurePosixPath(name).suffix, lower case, without its dot ("" if none)."""
    if name.startswith(".") or name.endswith("/") or "/." in name or "//" in name:
        return PurePosixPath(name).suffix.lower().lstrip(".")
    last = name[name.rfind("/") + 1 :]  # (its last part, as PurePosixPath has it)
    dot = last.rfind(".")
    return last[dot + 1 :].lower() if 0 < dot < len(last) - 1 else ""


def reader_for(name: str) -> Reader | None:
    """The reader of an input called `name` (by its suffix), or None."""
    suffix = suffix_of(name)
    _load(suffix)
    return _READERS.get(suffix)


def is_companion(name: str, head: bytes) -> bool:
    """Whether the input `name`, starting with the bytes `head`, is a companion file."""
    reader = reader_for(name)
    test = reader.is_companion if reader is not None else None
    return test is not None and test(name, head)


def companions_beside(path: Path) -> list[Member]:
    """The companion files beside `path` on disk, for a caller that reads one file by its
    path (a test, a script); the extract stage hands a reader those of its own scan."""
    found = []
    for other in sorted(path.parent.iterdir()):
        if other.is_file() and other != path and wants_companions(other.name):
            data = other.read_bytes()
            if is_companion(other.name, data[:COMPANION_HEAD_BYTES]):
                found.append(Member(other.name, data))
    return found


def wants_companions(name: str) -> bool:
    """Whether the reader of `name` reads companion files with it."""
    reader = reader_for(name)
    return reader is not None and reader.is_companion is not None


def read_input(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileExtraction:
    """Read one input with the reader for its name; raises a LabelError when it cannot."""
    reader = reader_for(name)
    if reader is None:
        raise ValueError(f"no reader for {name!r}")
    return reader.read(data, name, source_file, companions)


def read_input_values(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileValues:
    """`read_input` as field values (the reader's `read_values` where it has one)."""
    reader = reader_for(name)
    if reader is None:
        raise ValueError(f"no reader for {name!r}")
    if reader.read_values is not None:
        return reader.read_values(data, name, source_file, companions)
    return extraction_values(reader.read(data, name, source_file, companions))


def read_path(
    read: ReadFn, path: Path, source_file: str, data: bytes | None = None
) -> FileExtraction:
    """`read` (a reader's function of bytes) of the file at `path`, or of `data` (its
    bytes), with the companion files beside it when its reader reads companions: each
    reader module's `read_<format>(path, source_file, data=None)`, for a caller that reads
    one file by its path (a test, a script)."""
    data = read_bytes(path, source_file) if data is None else data
    companions = companions_beside(path) if wants_companions(path.name) else []
    return read(data, path.name, source_file, companions)
