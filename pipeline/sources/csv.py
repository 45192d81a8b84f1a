"""Read a label table saved as CSV: a DSLD export or the simple one-row-per-ingredient layout.

The layout is decided by the header row (the first non-blank line). Header names are
matched ignoring case, spaces and underscores: "Product Name", "product_name" and
" PRODUCTNAME " are the same column. Columns not listed below are ignored.

Encoding: UTF-8 (with or without a byte-order mark) is tried first, then Windows-1252
(what Excel calls "ANSI"; the same as Latin-1 for every letter Latin-1 has, plus the
dashes and quotes), then Latin-1. A file with a UTF-16 byte-order mark is read as UTF-16.
Delimiter: comma, semicolon or tab, whichever occurs most often on the header line
(comma on a tie).

Layout 1: DSLD export (``source_format`` "csv-dsld")
    ``DietarySupplementFacts.csv`` as downloaded from the NIH Dietary Supplement Label
    Database: one row per ingredient, many products per file. Required columns: DSLD ID,
    Product Name, Ingredient, Amount Per Serving, Amount Per Serving Unit. Also read:
    Serving Size, % Daily Value per Serving (a bare number such as "38" is read as "38%").
    Rows are grouped into one label per DSLD ID, in order of first appearance. The export
    has no form column: an Ingredient such as "Calcium (as calcium citrate)" is split
    into the name "Calcium" and the form "calcium citrate". It has no parent-blend column
    either, so blend members are read as ordinary rows. DSLD writes an ingredient that is
    listed without an amount as amount 0 with unit "NP" (or "Not Present"); such a row is
    read with no amount and its unit kept ("NP").
    If a ``ProductOverview.csv`` (the export's companion file: DSLD ID, Brand Name, Net
    Contents, Serving Size, Suggested Use, ...) lies in the same folder, the brand, serving
    size and directions (Suggested Use) of each DSLD ID are taken from it. It is not a
    label table: `is_companion_head` tells it by its header, and the extract stage hands
    it to the reader with the export (from the same folder or archive folder).

Layout 2: simple layout (``source_format`` "csv-simple")
    One row per ingredient; write it by hand or export it from a spreadsheet.

    ======================  ========  ==========================================================
    column                  required  meaning
    ======================  ========  ==========================================================
    product_name            yes       the product; rows are grouped into products by it
    ingredient              yes       the ingredient as printed, e.g. "Calcium" or
                                      "Calcium (as calcium citrate)"
    amount                  yes       the amount per serving as printed: "500", "0.5", "1,000",
                                      "<1"; blank or "NP" when the label gives no amount
    unit                    yes       as printed: "mg", "mcg", "IU", "mcg DFE"
    brand                   no        the brand; part of what tells products apart
    serving_size            no        as printed: "2 Tablets"
    servings_per_container  no        as printed: "60"
    daily_value             no        the % Daily Value: "38%" (or "38"), or a marker "*", "†"
    form                    no        the source: "calcium citrate" (if blank, an "(as ...)"
                                      in the ingredient is split off and used)
    blend                   no        the name of the blend this ingredient is a member of
    directions              no        product text: suggested use
    warnings                no        product text: cautions and warnings
    other_ingredients       no        product text: "Gelatin, Olive Oil"
    ======================  ========  ==========================================================

    Products are kept in order of first appearance. A row whose product_name is blank
    belongs to the product of the row above it (so the name can be written once per
    product). A row with a product_name and a blank brand belongs to the latest product
    of that name. The product text fields (brand, serving_size, servings_per_container,
    directions, warnings, other_ingredients) take the first non-blank value among a
    product's rows.

Rows and errors (both layouts)
    Row numbers are those a spreadsheet shows: the header is row 1, the first data row is
    row 2 (a quoted cell spanning several lines still counts as one row). Rows whose cells
    are all blank are skipped. A row with a blank ingredient name, or with an amount that
    is not a number, is kept (its amount as given) and reported as a read issue, e.g.
    "row 7: amount 'abc' of 'Calcium' is not a number"; the rest of the file is read.
    A file that is empty, holds only a header, or whose header matches neither layout is
    rejected (`UnreadableFile` / `BadTable`); for a header that matches neither, the reason
    names the required columns missing from the closer layout (the one missing fewer; the
    simple layout on a tie).

Each row becomes a `LabelRow` whose ``line_no`` is its order within its product and whose
``raw_text`` is the row's cells joined by " | ".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath

from pipeline import config
from pipeline.errors import BadTable, UnreadableFile
from pipeline.records import FileExtraction, Label, LabelRow, ReadIssue
from pipeline.sources import registry
from pipeline.sources.csv_table import (
    Table,
    column_index,
    decode,
    delimiter,
    missing_columns,
    parse,
    read_text,
)
from pipeline.sources.registry import Member, Reader, register

FORMAT_DSLD = "csv-dsld"
FORMAT_SIMPLE = "csv-simple"

#: The DSLD companion file's usual name (compared ignoring case).
OVERVIEW_FILE_NAME = "productoverview.csv"

# Column names as shown to users (in error messages); matched by `column_key`.
DSLD_REQUIRED = (
    "DSLD ID",
    "Product Name",
    "Ingredient",
    "Amount Per Serving",
    "Amount Per Serving Unit",
)
DSLD_OPTIONAL = (
    "URL",
    "Serving Size",
    "DSLD Ingredient Categories",
    "% Daily Value per Serving",
    "Daily Value Target Group",
)
SIMPLE_REQUIRED = ("product_name", "ingredient", "amount", "unit")
SIMPLE_OPTIONAL = (
    "brand",
    "serving_size",
    "servings_per_container",
    "daily_value",
    "form",
    "blend",
    "directions",
    "warnings",
    "other_ingredients",
)
OVERVIEW_COLUMNS = ("DSLD ID", "Brand Name", "Serving Size", "Suggested Use")

_NOT_PRESENT = frozenset({"np", "not present"})
_NUMBER = re.compile(r"^(?:<|>|≤|≥|~)?\s*(?:\d+(?:[.,]\d+)*|[.,]\d+)$")
_BARE_PERCENT = re.compile(r"^(?:<|>|≤|≥)?\s*(?:\d+(?:[.,]\d+)*|[.,]\d+)$")
_AS_OPEN = re.compile(r"\(\s*as\s+", re.IGNORECASE)


def split_as_form(text: str) -> tuple[str, str | None]:
    """Split "Calcium (as calcium citrate)" into ("Calcium", "calcium citrate").

    Parentheses inside the form are kept ("Vitamin D (as cholecalciferol (D3))" gives
    "cholecalciferol (D3)"); text after the parenthesis stays in the name. Text without
    an "(as ...)" is returned unchanged with no form.
    """
    match = _AS_OPEN.search(text)
    if match is None:
        return text.strip(), None
    depth = 1
    for pos in range(match.end(), len(text)):
        char = text[pos]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                form = text[match.end() : pos].strip()
                name = f"{text[: match.start()].strip()} {text[pos + 1 :].strip()}".strip()
                return name, form or None
    return text.strip(), None  # unbalanced: leave it as printed


def _layout(header: Sequence[str], source_file: str) -> str:
    missing_dsld = missing_columns(header, DSLD_REQUIRED)
    if not missing_dsld:
        return FORMAT_DSLD
    missing_simple = missing_columns(header, SIMPLE_REQUIRED)
    if not missing_simple:
        return FORMAT_SIMPLE
    closer = missing_dsld if len(missing_dsld) < len(missing_simple) else missing_simple
    raise BadTable(
        "the CSV header matches neither the DSLD export layout nor the simple layout: "
        f"missing column(s) {', '.join(closer)}",
        source_file=source_file,
    )


def _header_from(head: bytes) -> list[str] | None:
    """The header cells of a CSV whose first bytes are `head` (None if blank)."""
    if len(head) >= registry.COMPANION_HEAD_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # do not cut a character in two
    text = decode(head)
    for line in text.splitlines():
        if line.strip():
            return next(csv.reader([line], delimiter=delimiter(line)), None)
    return None


def is_companion_head(name: str, head: bytes) -> bool:
    """True if a CSV starting with the bytes `head` is a DSLD ProductOverview.csv: a
    companion file, not a label table.

    Decided by the header alone: it names DSLD ID and Brand Name and has no Ingredient
    column. The extract stage does not read such a file alone (it is handed to the reader
    with the other CSV files of its folder) instead of rejecting it.
    """
    header = _header_from(head)
    if not header:
        return False
    return not missing_columns(header, ("DSLD ID", "Brand Name")) and bool(
        missing_columns(header, ("Ingredient",))
    )


def choose_overview(companions: Sequence[Member]) -> Member | None:
    """The ProductOverview.csv read together with a DSLD export, among the companion files
    of its folder: one named ProductOverview.csv (any case) is preferred; failing that, the
    only one there is used."""
    named = [c for c in companions if PurePosixPath(c.name).name.lower() == OVERVIEW_FILE_NAME]
    if named:
        return named[0]
    return companions[0] if len(companions) == 1 else None


# --------------------------------------------------------------------------- rows


@dataclass
class _Product:
    key: tuple[str, str]
    name: str
    texts: dict[str, str] = field(default_factory=dict)  # first non-blank per text field
    # (spreadsheet row number, values by column, raw text, width note or "")
    rows: list[tuple[int, dict[str, str], str, str]] = field(default_factory=list)

    def take_texts(self, values: dict[str, str], fields: Iterable[str]) -> None:
        for f in fields:
            if not self.texts.get(f) and values.get(f):
                self.texts[f] = values[f]


def _cells(row: list[str], index: dict[str, int]) -> dict[str, str]:
    return {name: row[pos].strip() if pos < len(row) else "" for name, pos in index.items()}


def _dv(value: str) -> str | None:
    if not value:
        return None
    return f"{value}%" if _BARE_PERCENT.match(value) else value


def _amount(
    amount: str, unit: str, name: str, row_no: int, issues: list[str]
) -> tuple[str | None, str | None]:
    """(amount_raw, unit_raw) for one row, noting a non-numeric amount in `issues`."""
    unit_raw = unit or None
    if not amount:
        return None, unit_raw
    if amount.lower() in _NOT_PRESENT:
        return None, unit_raw or amount
    if not _NUMBER.match(amount):
        issues.append(f"row {row_no}: amount '{amount}' of '{name}' is not a number")
        return amount, unit_raw
    if unit.lower() in _NOT_PRESENT and re.fullmatch(r"0+(?:[.,]0+)?", amount):
        return None, unit_raw  # DSLD's placeholder for "listed without an amount"
    return amount, unit_raw


def csv_from_bytes(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileExtraction:
    """Read one CSV label table (DSLD export or simple layout) into labels and rows, from
    its bytes; `companions`: the companion files of its folder (a DSLD export takes brand,
    serving size and directions from its ProductOverview.csv among them)."""
    table = parse(read_text(data, source_file), source_file)
    layout = _layout(table.header, source_file)
    if not table.rows:
        raise BadTable("the CSV has a header but no data rows", source_file=source_file)
    if layout == FORMAT_DSLD:
        return _read_dsld(source_file, table, choose_overview(companions))
    return _read_simple(source_file, table)


def _build(
    source_file: str,
    source_format: str,
    products: list[_Product],
    pre_issues: list[ReadIssue],
    label_texts: dict[int, dict[str, str]] | None = None,
) -> FileExtraction:
    labels: list[Label] = []
    rows: list[LabelRow] = []
    issues = list(pre_issues)
    for index, product in enumerate(products):
        texts = dict(product.texts)
        for key, value in (label_texts or {}).get(index, {}).items():
            if value:
                texts[key] = value
        labels.append(
            Label(
                source_file=source_file,
                label_index=index,
                product_name=product.name,
                brand=texts.get("brand") or None,
                serving_size=texts.get("serving_size") or None,
                servings_per_container=texts.get("servings_per_container") or None,
                directions=texts.get("directions", ""),
                warnings=texts.get("warnings", ""),
                other_ingredients=texts.get("other_ingredients", ""),
                source_format=source_format,
            )
        )
        for line_no, (row_no, values, raw_text, width_note) in enumerate(product.rows, start=1):
            notes: list[str] = [width_note] if width_note else []
            printed = values.get("ingredient", "")
            name, form = split_as_form(printed)
            if values.get("form"):
                form = values["form"]
            if not name:
                notes.append(f"row {row_no}: the ingredient name is empty")
            amount_raw, unit_raw = _amount(
                values.get("amount", ""), values.get("unit", ""), name, row_no, notes
            )
            rows.append(
                LabelRow(
                    source_file=source_file,
                    label_index=index,
                    line_no=line_no,
                    name_raw=name,
                    amount_raw=amount_raw,
                    unit_raw=unit_raw,
                    dv_raw=_dv(values.get("daily_value", "")),
                    form_raw=form,
                    parent=values.get("blend") or None,
                    page=None,
                    raw_text=raw_text,
                )
            )
            issues.extend(ReadIssue(source_file, index, None, line_no, n) for n in notes)
    return FileExtraction(
        source_file=source_file, labels=tuple(labels), rows=tuple(rows), issues=tuple(issues)
    )


def _raw_text(cells: list[str]) -> str:
    return " | ".join(c.strip() for c in cells)


def _width_note(row_no: int, cells: list[str], table: Table) -> str:
    """A read-issue text for a row with filled cells beyond the header, else "".

    Such a row is usually a value holding the delimiter without quotes ("1,000" in a
    comma-separated file), which shifts every later cell: the row is kept, and flagged.
    """
    width = len(table.header)
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        return (
            f"row {row_no}: {len(cells)} cells but the header has {width} "
            "(a value holding the delimiter without quotes?); the cells were read by position"
        )
    return ""


_SIMPLE_TEXTS = (
    "brand",
    "serving_size",
    "servings_per_container",
    "directions",
    "warnings",
    "other_ingredients",
)


def _group_rows(
    source_file: str,
    table: Table,
    values_of: Callable[[list[str]], dict[str, str]],
    product_of: Callable[[dict[str, str]], _Product | None],
    missing: str,
    texts: Iterable[str],
) -> tuple[list[_Product], list[ReadIssue]]:
    """The table's rows grouped into products, in order of first appearance: each row's
    `values_of` its cells, its product `product_of` them (None for a row without its key:
    it belongs to the product above, or is skipped with a read issue saying it has
    `missing`). A product takes the first non-blank of `texts`, and its name from the first
    row that gives one."""
    found: dict[int, _Product] = {}
    issues: list[ReadIssue] = []
    current: _Product | None = None
    for row_no, cells in table.rows:
        values = values_of(cells)
        product = product_of(values) or current
        if product is None:
            reason = f"row {row_no}: {missing} (and no product above it); the row was skipped"
            issues.append(ReadIssue(source_file, None, None, None, reason))
            continue
        found.setdefault(id(product), product)
        if not product.name and values.get("product_name"):
            product.name = values["product_name"]
        current = product
        product.take_texts(values, texts)
        product.rows.append((row_no, values, _raw_text(cells), _width_note(row_no, cells, table)))
    return list(found.values()), issues


def _read_simple(source_file: str, table: Table) -> FileExtraction:
    index = column_index(table.header, SIMPLE_REQUIRED + SIMPLE_OPTIONAL, source_file)
    by_key: dict[tuple[str, str], _Product] = {}
    latest_by_name: dict[str, _Product] = {}

    def product_of(values: dict[str, str]) -> _Product | None:
        name, brand = values["product_name"], values.get("brand", "")
        if not name:
            return None
        if not brand and name in latest_by_name:
            product = latest_by_name[name]
        else:
            product = by_key.setdefault((name, brand), _Product((name, brand), name))
        latest_by_name[product.name] = product
        return product

    products, issues = _group_rows(
        source_file,
        table,
        lambda cells: _cells(cells, index),
        product_of,
        "no product name",
        _SIMPLE_TEXTS,
    )
    if not products:
        raise BadTable("the CSV has no row with a product name", source_file=source_file)
    return _build(source_file, FORMAT_SIMPLE, products, issues)


_DSLD_FIELDS = {
    "DSLD ID": "id",
    "Product Name": "product_name",
    "Serving Size": "serving_size",
    "Ingredient": "ingredient",
    "Amount Per Serving": "amount",
    "Amount Per Serving Unit": "unit",
    "% Daily Value per Serving": "daily_value",
}


def _read_dsld(source_file: str, table: Table, overview_file: Member | None) -> FileExtraction:
    index = column_index(table.header, DSLD_REQUIRED + DSLD_OPTIONAL, source_file)
    by_id: dict[str, _Product] = {}

    def values_of(cells: list[str]) -> dict[str, str]:
        named = _cells(cells, index)
        return {_DSLD_FIELDS[k]: v for k, v in named.items() if k in _DSLD_FIELDS}

    def product_of(values: dict[str, str]) -> _Product | None:
        dsld_id = values["id"]
        if not dsld_id:
            return None
        return by_id.setdefault(dsld_id, _Product((dsld_id, ""), values["product_name"]))

    products, issues = _group_rows(
        source_file, table, values_of, product_of, "no DSLD ID", ("serving_size",)
    )
    if not products:
        raise BadTable("the CSV has no row with a DSLD ID", source_file=source_file)
    for product in products:
        if not product.name:
            product.name = f"DSLD {product.key[0]}"
    overview = _read_overview(overview_file, source_file, issues)
    label_texts = {
        i: overview.get(p.key[0], {}) for i, p in enumerate(products) if p.key[0] in overview
    }
    return _build(source_file, FORMAT_DSLD, products, issues, label_texts)


def _read_overview(
    overview_file: Member | None, source_file: str, issues: list[ReadIssue]
) -> dict[str, dict[str, str]]:
    """Brand, serving size and directions by DSLD ID from the companion file, if any.

    A companion file that cannot be read is noted in `issues`; the export is still read.
    """
    if overview_file is None:
        return {}
    try:
        table = parse(decode(overview_file.data), source_file)
        index = column_index(table.header, OVERVIEW_COLUMNS, source_file)
    except (UnreadableFile, BadTable) as exc:
        issues.append(
            ReadIssue(
                source_file,
                None,
                None,
                None,
                f"the companion file {PurePosixPath(overview_file.name).name} could not be "
                f"read: {exc.detail}",
            )
        )
        return {}
    out: dict[str, dict[str, str]] = {}
    for _, cells in table.rows:
        values = _cells(cells, index)
        dsld_id = values.get("DSLD ID", "")
        if dsld_id and dsld_id not in out:
            out[dsld_id] = {
                "brand": values.get("Brand Name", ""),
                "serving_size": values.get("Serving Size", ""),
                "directions": values.get("Suggested Use", ""),
            }
    return out


READER = register(
    Reader(FORMAT_DSLD, config.CSV_SUFFIXES, csv_from_bytes, is_companion=is_companion_head)
)
#: read_csv(path, source_file, data=None): `csv_from_bytes` of the file at `path`, with the
#: companion files beside it.
read_csv = partial(registry.read_path, csv_from_bytes)
