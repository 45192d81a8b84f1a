"""CSV bytes -> a table: decoding (UTF-8 with or without BOM, Windows-1252, Latin-1; UTF-16
with a BOM), the delimiter (comma, semicolon or tab), the header row and the data rows with
their spreadsheet row numbers (the row limit checked while reading), and header names
matched ignoring case, spaces and underscores. pipeline.sources.csv reads the layouts."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.errors import BadTable, UnreadableFile
from pipeline.sources import check_rows


def column_key(name: str) -> str:
    """The matching key of a header name: lower case, without spaces and underscores."""
    return re.sub(r"[\s_]+", "", name.replace("\ufeff", "")).lower()


# --------------------------------------------------------------------------- decoding


def decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_text(data: bytes, source_file: str) -> str:
    """The text of a CSV file's bytes; binary data is an UnreadableFile."""
    text = decode(data)
    if "\x00" in text:
        raise UnreadableFile("not a text CSV file: it holds binary data", source_file=source_file)
    return text


def delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts.values())
    if best == 0:
        return ","
    return next(d for d in (",", ";", "\t") if counts[d] == best)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)


def parse(text: str, source_file: str) -> Table:
    if not text.strip():
        raise UnreadableFile("the CSV file is empty", source_file=source_file)
    first_line = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(first_line))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    record_no = 0
    try:
        for cells in reader:
            if header is None:
                if not any(c.strip() for c in cells):
                    continue
                header = [c.strip() for c in cells]
                record_no = 1
                continue
            record_no += 1
            if any(c.strip() for c in cells):
                rows.append((record_no, cells))
                if len(rows) % 1024 == 0:  # stop early: never hold a huge table
                    check_rows(len(rows), source_file)
    except csv.Error as exc:
        raise UnreadableFile(
            f"not a readable CSV: {exc}", source_file=source_file, row=record_no + 1
        ) from exc
    if header is None:
        raise BadTable("the CSV has no header row (only blank cells)", source_file=source_file)
    check_rows(len(rows), source_file)
    return Table(header, rows)


# --------------------------------------------------------------------------- header


def column_index(header: Sequence[str], names: Iterable[str], source_file: str) -> dict[str, int]:
    """Map each wanted column name (by key) to its position; duplicates are an error."""
    wanted = {column_key(n): n for n in names}
    found: dict[str, int] = {}
    for pos, cell in enumerate(header):
        key = column_key(cell)
        if key in wanted:
            if wanted[key] in found:
                raise BadTable(
                    f"the CSV header names the column '{wanted[key]}' more than once",
                    source_file=source_file,
                )
            found[wanted[key]] = pos
    return found


def missing_columns(header: Sequence[str], required: Sequence[str]) -> list[str]:
    keys = {column_key(c) for c in header}
    return [n for n in required if column_key(n) not in keys]
