"""Run history and what changed since the previous run.

`append_history_record` appends one JSON line per run to `REPORTS/history.jsonl`
(append-only: a run adds its line, never rewrites the file); `read_history` reads it, and
the `history/*.json` files (one record per file) that runs before it wrote.
`previous_columns` and `column_changes` (`changes_between` for lists of products) give
audit.json's "changes".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipeline.infra.atomic import _fsync_dir, _writing

logger = logging.getLogger(__name__)


def _json_default(value: Any) -> Any:
    """JSON for the few non-JSON values a run record may hold (paths, times, numpy scalars)."""
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def history_line(record: Mapping[str, Any]) -> str:
    """`record` as one JSON line (no newline inside it, one at its end)."""
    return json.dumps(dict(record), ensure_ascii=False, default=_json_default) + "\n"


def append_history_record(history_file: Path, record: Mapping[str, Any]) -> Path:
    """Append `record` as one JSON line to `history_file` (REPORTS/history.jsonl, created
    if needed); returns its path.

    The line is written with one `write` to a file opened O_APPEND, then fsynced: earlier
    lines are never rewritten, and a run killed while appending leaves at most a partial
    last line, which `read_history` skips. Runs append under the reports folder's lock, so
    lines never interleave. A failed write is `CannotWrite`.
    """
    path = Path(history_file)
    data = history_line(record).encode("utf-8")
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(fd):
                os.write(fd, b"\n")  # a partial line a killed run left stays a line apart
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(path.parent)
    return path


def _ends_with_newline(fd: int) -> bool:
    return os.pread(fd, 1, os.fstat(fd).st_size - 1) == b"\n"


def read_history(history_file: Path, old_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every run record, oldest first: the `*.json` files of `old_dir` (REPORTS/history/,
    one record per file, as runs before history.jsonl wrote them; named by time, so sorted
    by name) and then each line of `history_file`. A line or file that is not a JSON
    object (a partial last line) is skipped with a warning."""
    records: list[dict[str, Any]] = []
    sources: list[tuple[Path, list[str]]] = []
    if old_dir is not None and Path(old_dir).is_dir():
        for path in sorted(Path(old_dir).glob("*.json")):
            with contextlib.suppress(OSError):
                sources.append((path, [path.read_text(encoding="utf-8")]))
    with contextlib.suppress(FileNotFoundError):
        text = Path(history_file).read_text(encoding="utf-8")
        sources.append((Path(history_file), [line for line in text.splitlines() if line.strip()]))
    for path, texts in sources:
        for text in texts:
            try:
                record = json.loads(text)
            except ValueError:
                record = None
            if isinstance(record, dict):
                records.append(record)
            else:
                logger.warning("%s: a run record that is not a JSON object is skipped", path)
    return records


#: What `changes_between` reads of each product.
PREVIOUS_KEYS = ("product_id", "source_file", "product_name", "verdict")


def _keep_product_keys(obj: dict[str, Any]) -> Any:
    """json object_hook: a product keeps the keys `changes_between` reads; its label rows,
    checks and every other object inside a product are dropped as soon as they are parsed."""
    if "products" in obj:
        return obj
    if "product_id" in obj and "verdict" in obj:
        return {k: obj.get(k) for k in PREVIOUS_KEYS}
    return None


def read_previous_products(audit_json: Path) -> list[Any] | None:
    """What `changes_between` needs of the previous run's audit.json: its products with
    product_id, source_file, product_name and verdict only, or None if the file is missing,
    unreadable or not an audit document (logged as a warning).

    The previous document is never held whole (a 2,000-file audit.json is ~100 MB as
    Python objects): each label row and check is dropped as soon as it is parsed.
    """
    path = Path(audit_json)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text, object_hook=_keep_product_keys)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("previous audit %s is unreadable (%s): no changes are reported", path, exc)
        return None
    del text
    if not isinstance(data, dict):
        logger.warning("previous audit %s is not a JSON object: no changes are reported", path)
        return None
    products = data.get("products")
    return list(products) if isinstance(products, list) else []


#: Each of PREVIOUS_KEYS as a column (one value a product, in the products' order): what
#: `column_changes` compares, no dict a product (40,000 products as dicts were ~30 MB).
Columns = dict[str, list[Any]]


def _ranking_columns(ranking_csv: Path) -> Columns | None:
    import pandas as pd  # (imported here: an unchanged run appends a line and reads none)

    from pipeline.report import csv_cell_text

    path = Path(ranking_csv)
    try:
        frame = pd.read_csv(
            path, usecols=list(PREVIOUS_KEYS), dtype=str, keep_default_na=False, na_values=[]
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        logger.warning("previous ranking %s is unreadable (%s): no changes are reported", path, exc)
        return None
    return {
        key: [None if v == "" else csv_cell_text(v) for v in frame[key].tolist()]
        for key in PREVIOUS_KEYS
    }


def _rows(columns: Columns) -> list[dict[str, Any]]:
    values = zip(*(columns[key] for key in PREVIOUS_KEYS), strict=True)
    return [dict(zip(PREVIOUS_KEYS, row, strict=True)) for row in values]


def _columns(products: Sequence[Any]) -> Columns:
    """PREVIOUS_KEYS of the products (entries that are not objects skipped) as columns."""
    kept = [product for product in products if isinstance(product, Mapping)]
    return {key: [product.get(key) for product in kept] for key in PREVIOUS_KEYS}


def read_previous_ranking(ranking_csv: Path) -> list[dict[str, Any]] | None:
    """What `changes_between` needs of the previous run, from its ranking.csv (written with
    audit.json, and a hundredth of its size): PREVIOUS_KEYS of each product, or None if the
    file is missing, unreadable or lacks one of those columns (logged as a warning)."""
    columns = _ranking_columns(ranking_csv)
    return None if columns is None else _rows(columns)


def previous_columns(audit_json: Path, ranking_csv: Path) -> Columns | None:
    """The previous run's products for `column_changes`: from its ranking.csv when it is
    there and readable, else from its audit.json (`read_previous_products`)."""
    if Path(ranking_csv).exists():
        found = _ranking_columns(ranking_csv)
        if found is not None:
            return found
    products = read_previous_products(audit_json)
    return None if products is None else _columns(products)


def previous_products(audit_json: Path, ranking_csv: Path) -> list[Any] | None:
    """`previous_columns` as one dict a product."""
    columns = previous_columns(audit_json, ranking_csv)
    return None if columns is None else _rows(columns)


def _first_at(ids: Sequence[Any]) -> dict[str, int]:
    """Where each product id is first (an id that is not a string is skipped)."""
    out: dict[str, int] = {}
    for at, pid in enumerate(ids):
        if isinstance(pid, str) and pid not in out:
            out[pid] = at
    return out


def _change_item(product_id: str, columns: Columns, at: int) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "source_file": columns["source_file"][at],
        "product_name": columns["product_name"][at],
    }


def changes_between(
    previous_products: Sequence[Mapping[str, Any]] | None,
    current_products: Sequence[Mapping[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """What changed since the previous run, matching products by `product_id`.

    Returns {"added": [...], "removed": [...], "verdict_changed": [...]}, each item
    {"product_id", "source_file", "product_name"} (from the current run; from the
    previous one for "removed"), plus "from" and "to" verdicts for a verdict change;
    each list sorted by product_id. With no previous run (None) all lists are empty:
    a first run is not "everything added". Entries without a string product_id are
    skipped; the first of a repeated id counts.
    """
    before = None if previous_products is None else _columns(previous_products)
    return column_changes(before, _columns(current_products))


def column_changes(before: Columns | None, after: Columns) -> dict[str, list[dict[str, Any]]]:
    """`changes_between` of the products as columns (`Columns`)."""
    changes: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "verdict_changed": []}
    if before is None:
        return changes
    old, new = _first_at(before["product_id"]), _first_at(after["product_id"])
    for pid in sorted(new.keys() - old.keys()):
        changes["added"].append(_change_item(pid, after, new[pid]))
    for pid in sorted(old.keys() - new.keys()):
        changes["removed"].append(_change_item(pid, before, old[pid]))
    was, now = before["verdict"], after["verdict"]
    for pid in sorted(old.keys() & new.keys()):
        if was[old[pid]] != now[new[pid]]:
            changes["verdict_changed"].append(
                {**_change_item(pid, after, new[pid]), "from": was[old[pid]], "to": now[new[pid]]}
            )
    return changes
