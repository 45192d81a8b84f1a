"""Corrections and confirmations of label rows: LABELS/corrections.csv.

A person who checked a value against the label records it with `labelaudit correct`
(the value printed is not what was read: the amount and unit to use instead) or
`labelaudit confirm` (the value read is right: its low-confidence or repair flag is
cleared). Each is one line appended to `corrections.csv` in the labels folder; a person may
edit the file too. It is an input: the audit reads it, never rewrites it.

Each line names the label file (as audit.json names it), the file's sha256 when the
correction was made, the 1-based panel line (`line`, and `label`, the 0-based product in
the file, for files of several products), `field` ("amount" or "confirmed"), the value
and unit, who, when and why. On each run the extract stage checks every line against the
file as it is now (`snapshot`): a line whose file changed since (its sha256 differs) or is
gone is stale, not applied, and listed (audit.json `stale_corrections`); a malformed line
is an error naming its line, and the others still apply. The normalize stage applies the
current ones to the label rows (`apply_to_rows`) before they are normalized, so the
amounts, checks, score and verdict follow.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline import config
from pipeline.errors import AuditError
from pipeline.infra.atomic import atomic_write_text
from pipeline.infra.cache import file_digest
from pipeline.units import lookup_unit, parse_amount

if TYPE_CHECKING:
    import pandas as pd

#: The columns of corrections.csv, in the order `append` writes them (a file may order
#: them otherwise: they are read by name; `label` may be left out, meaning 0).
COLUMNS = ("source_file", "sha256", "line", "field", "value", "unit", "by", "date", "why", "label")
REQUIRED = ("source_file", "sha256", "line", "field", "by", "date", "why")
#: The kinds of line: a corrected amount, or a confirmation of the value as read.
AMOUNT = "amount"
CONFIRMED = "confirmed"
FIELDS = (AMOUNT, CONFIRMED)
#: What a row's `review` says for each kind (pipeline.records.LabelRow.review).
REVIEW_OF = {AMOUNT: "corrected", CONFIRMED: "confirmed"}


@dataclass(frozen=True)
class Correction:
    """One line of corrections.csv (`file_line`: its line in that file, the header is 1)."""

    source_file: str
    sha256: str
    line: int
    field: str
    value: str
    unit: str
    by: str
    date: str
    why: str
    label: int = 0
    file_line: int = 0

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.source_file, self.label, self.line)

    def describe(self) -> str:
        """ "corrected by NAME on DATE: WHY" (or "confirmed by ...")."""
        return f"{REVIEW_OF[self.field]} by {self.by} on {self.date}: {self.why}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def corrections_path(labels_dir: Path) -> Path:
    return labels_dir / config.CORRECTIONS_FILE


def _problem(fields: Mapping[str, str]) -> str | None:
    """What is wrong with one line's fields, or None."""
    missing = [c for c in REQUIRED if not fields.get(c, "").strip()]
    if missing:
        return f"{', '.join(missing)} missing"
    if not fields["line"].strip().isdigit() or int(fields["line"]) < 1:
        return f"line {fields['line']!r} is not a line number (1, 2, ...)"
    label = fields.get("label", "").strip() or "0"
    if not label.isdigit():
        return f"label {label!r} is not a product number (0, 1, ...)"
    if fields["field"].strip() not in FIELDS:
        return f"field {fields['field']!r} is not one of {', '.join(FIELDS)}"
    if fields["field"].strip() == AMOUNT:
        return amount_problem(fields.get("value", ""), fields.get("unit", ""))
    return None


def amount_problem(value: str, unit: str) -> str | None:
    """Why `value` `unit` cannot be a corrected amount, or None."""
    parsed = parse_amount(value)
    if parsed is None or parsed.value < 0:
        return f"value {value!r} is not an amount"
    if lookup_unit(unit) is None:
        return f"unit {unit!r} is not a known unit"
    return None


def parse(text: str, name: str = config.CORRECTIONS_FILE) -> tuple[list[Correction], list[str]]:
    """The corrections in corrections.csv's `text`, and an error for each line that is
    not one ("corrections.csv line 3: value 'x5' is not an amount"): such a line is left
    out, the others are kept."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        return [], []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [f"{name} line 1: the header lacks {', '.join(missing)}"]
    reader.fieldnames = header
    found: list[Correction] = []
    errors: list[str] = []
    for record in reader:
        number = reader.line_num
        fields = {k: (v or "").strip() for k, v in record.items() if isinstance(k, str)}
        if not any(fields.values()):
            continue
        if None in record:
            errors.append(f"{name} line {number}: more cells than the header has")
            continue
        problem = _problem(fields)
        if problem is not None:
            errors.append(f"{name} line {number}: {problem}")
            continue
        found.append(
            Correction(
                source_file=fields["source_file"],
                sha256=fields["sha256"].lower(),
                line=int(fields["line"]),
                field=fields["field"],
                value=fields.get("value", ""),
                unit=fields.get("unit", ""),
                by=fields["by"],
                date=fields["date"],
                why=fields["why"],
                label=int(fields.get("label") or 0),
                file_line=number,
            )
        )
    return found, errors


def read(labels_dir: Path) -> tuple[list[Correction], list[str]]:
    """corrections.csv of `labels_dir` (none when there is no such file)."""
    path = corrections_path(labels_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{config.CORRECTIONS_FILE}: cannot be read: {exc.strerror}"]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [], [f"{config.CORRECTIONS_FILE} line {line}: not UTF-8 text"]
    return parse(text)


def _digest(path: Path) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None


def snapshot(labels_dir: Path) -> dict[str, Any]:
    """corrections.csv checked against the label files as they are now: {"current": the
    corrections to apply, "stale": each with its `reason`, "errors": the malformed lines}.
    The later of two lines about the same row wins (both are kept in the file)."""
    found, errors = read(labels_dir)
    digests: dict[str, str | None] = {}
    current: dict[tuple[str, int, int], Correction] = {}
    stale: list[dict[str, Any]] = []
    for c in found:
        if c.source_file not in digests:
            path = labels_dir / c.source_file
            inside = os.path.realpath(path).startswith(os.path.realpath(labels_dir) + os.sep)
            digests[c.source_file] = _digest(path) if inside and path.is_file() else None
        digest = digests[c.source_file]
        if digest is None:
            stale.append({**c.to_dict(), "reason": "the label file is not in the labels folder"})
        elif digest != c.sha256:
            reason = f"the label file has changed since (its sha256 is now {digest[:12]}...)"
            stale.append({**c.to_dict(), "reason": reason})
        else:
            current.pop(c.key, None)
            current[c.key] = c
    return {
        "current": [c.to_dict() for c in current.values()],
        "stale": stale,
        "errors": errors,
    }


def write_snapshot(labels_dir: Path, target: Path) -> dict[str, Any]:
    """`snapshot` into the work folder (`target`, JSON): what the normalize stage applies."""
    snap = snapshot(labels_dir)
    atomic_write_text(target, json.dumps(snap, indent=1, sort_keys=True) + "\n")
    return snap


def load_snapshot(path: Path) -> dict[str, Any]:
    """The snapshot the extract stage wrote (an empty one when there is none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"current": [], "stale": [], "errors": []}
    return data if isinstance(data, dict) else {"current": [], "stale": [], "errors": []}


def current(snap: Mapping[str, Any]) -> list[Correction]:
    return [Correction(**c) for c in snap.get("current", [])]


#: The LabelRow columns a review sets (pipeline.records.LabelRow).
REVIEW_COLUMNS = (
    "review",
    "review_by",
    "review_date",
    "review_why",
    "printed_amount_raw",
    "printed_unit_raw",
)


def apply_to_rows(rows: pd.DataFrame, corrections: Iterable[Correction]) -> pd.DataFrame:
    """`rows` (label rows, as label_rows.parquet holds them) with `corrections` applied: a
    corrected row's amount_raw and unit_raw are the correction's, its printed_* columns
    what was read; a confirmed row keeps its values. Both get review, review_by,
    review_date and review_why. Rows no correction names are unchanged."""
    by_key = {c.key: c for c in corrections}
    if not by_key or rows.empty:
        return rows
    keys = list(
        zip(
            rows["source_file"],
            rows["label_index"].astype(int),
            rows["line_no"].astype(int),
            strict=True,
        )
    )
    hits = [(i, by_key[k]) for i, k in enumerate(keys) if k in by_key]
    if not hits:
        return rows
    out = rows.copy()
    for column in REVIEW_COLUMNS:
        out[column] = out[column].astype(object)
    for column in ("amount_raw", "unit_raw"):
        out[column] = out[column].astype(object)
    index = out.index
    for i, c in hits:
        at = index[i]
        out.at[at, "review"] = REVIEW_OF[c.field]
        out.at[at, "review_by"] = c.by
        out.at[at, "review_date"] = c.date
        out.at[at, "review_why"] = c.why
        if c.field == AMOUNT:
            printed = out.loc[at, ["amount_raw", "unit_raw"]].tolist()
            out.loc[at, ["printed_amount_raw", "printed_unit_raw"]] = printed
            out.at[at, "amount_raw"] = c.value
            out.at[at, "unit_raw"] = c.unit
    return out


def new_line(
    labels_dir: Path,
    source_file: str,
    *,
    line: int,
    field: str,
    value: str,
    unit: str,
    by: str,
    why: str,
    label: int = 0,
    date: str | None = None,
) -> Correction:
    """A correction (or confirmation) of `source_file`'s line `line`, with the file's
    sha256 now; raises AuditError when the file is not in the labels folder or a value is
    not usable."""
    path = labels_dir / source_file
    if not path.is_file():
        raise AuditError(f"{source_file}: no such label file in {labels_dir}")
    if line < 1:
        raise AuditError(f"--line {line}: panel lines are numbered from 1")
    if not by.strip() or not why.strip():
        raise AuditError("--by and --why must say who checked the label and what it says")
    if field == AMOUNT:
        problem = amount_problem(value, unit)
        if problem is not None:
            raise AuditError(f"{source_file} line {line}: {problem}")
    digest = _digest(path)
    if digest is None:
        raise AuditError(f"{source_file}: cannot be read")
    return Correction(
        source_file=source_file,
        sha256=digest,
        line=line,
        field=field,
        value=value,
        unit=unit,
        by=by.strip(),
        date=date or datetime.now(UTC).date().isoformat(),
        why=why.strip(),
        label=label,
    )


def append(labels_dir: Path, correction: Correction) -> Path:
    """Append `correction` to corrections.csv (created with its header when absent); the
    lines already there are never rewritten."""
    path = corrections_path(labels_dir)
    cells = {**correction.to_dict()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    lead = ""
    columns: Sequence[str] = COLUMNS
    if not path.exists() or path.stat().st_size == 0:
        writer.writerow(COLUMNS)
    else:
        with open(path, "rb") as fh:
            first = fh.readline().decode("utf-8-sig", "replace")
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) not in (b"\n", b"\r"):
                lead = "\n"
        columns = [c.strip() for c in next(csv.reader([first]), [])]  # the file's own order
        missing = [c for c in REQUIRED if c not in columns]
        if missing or (correction.label and "label" not in columns):
            lacks = ", ".join(missing) if missing else "label"
            raise AuditError(f"{path}: its header lacks {lacks}: add the column first")
    writer.writerow([cells.get(c, "") for c in columns])
    with open(path, "a", encoding="utf-8", newline="") as fh:
        fh.write(lead + buffer.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    return path


def applied_of(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A product's `corrections` (audit.json) from its label rows: each reviewed row's
    line, field, value and unit used, what was printed, who, when and why."""
    out = []
    for row in rows:
        kind = row.get("review")
        if not kind:
            continue
        field = AMOUNT if kind == REVIEW_OF[AMOUNT] else CONFIRMED
        out.append(
            {
                "line": row.get("line_no"),
                "field": field,
                "value": row.get("amount_raw"),
                "unit": row.get("unit_raw"),
                "printed_amount": row.get("printed_amount_raw")
                if field == AMOUNT
                else row.get("amount_raw"),
                "printed_unit": row.get("printed_unit_raw")
                if field == AMOUNT
                else row.get("unit_raw"),
                "by": row.get("review_by"),
                "date": row.get("review_date"),
                "why": row.get("review_why"),
                "note": f"{kind} by {row.get('review_by')} on {row.get('review_date')}: "
                f"{row.get('review_why')}",
            }
        )
    return out


def unmatched(
    snap: Mapping[str, Any], reviewed: Iterable[tuple[str, int, int]]
) -> list[dict[str, Any]]:
    """Current corrections that matched no label row (the line is not in the file's
    label): stale too, with that reason."""
    seen = set(reviewed)
    return [
        {**c, "reason": f"the file's label {c['label']} has no line {c['line']}"}
        for c in snap.get("current", [])
        if (c["source_file"], int(c["label"]), int(c["line"])) not in seen
    ]


def outcome(snap: Mapping[str, Any], nutrients: Path) -> dict[str, Any]:
    """What the run did with corrections.csv, from the snapshot and the normalized rows
    (nutrients.parquet): {"applied": the corrections a row took (for the run's history),
    "stale": those not applied, each with why, "errors": the malformed lines}."""
    reviewed: set[tuple[str, int, int]] = set()
    if snap.get("current") and nutrients.exists():
        columns = ["source_file", "label_index", "line_no", "review"]
        table = pq.read_table(nutrients, columns=columns).to_pylist()
        reviewed = {
            (r["source_file"], int(r["label_index"]), int(r["line_no"]))
            for r in table
            if r["review"] is not None
        }
    applied = [
        {k: c[k] for k in ("source_file", "label", "line", "field", "value", "unit", "by", "date")}
        for c in snap.get("current", [])
        if (c["source_file"], int(c["label"]), int(c["line"])) in reviewed
    ]
    stale = [*snap.get("stale", []), *unmatched(snap, reviewed)]
    return {"applied": applied, "stale": stale, "errors": list(snap.get("errors", []))}


def row_as_read(
    label_rows: Path, source_file: str, label: int, line: int
) -> tuple[str | None, str | None] | None:
    """(amount_raw, unit_raw) of the row as the last extraction read it (label_rows.parquet
    of the work folder); None when that table is not there. Raises AuditError when the
    file has no such line."""
    if not label_rows.exists():
        return None
    table = pq.read_table(
        label_rows,
        columns=["amount_raw", "unit_raw"],
        filters=[
            ("source_file", "=", source_file),
            ("label_index", "=", label),
            ("line_no", "=", line),
        ],
    ).to_pylist()
    if not table:
        raise AuditError(
            f"{source_file}: the last audit read no line {line} in its label {label} "
            "(see audit.json label_rows for the line numbers)"
        )
    return table[0]["amount_raw"], table[0]["unit_raw"]
