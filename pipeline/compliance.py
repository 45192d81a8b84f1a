"""The label compliance rule pack: Supplement Facts format rules of 21 CFR 101.36.

A second rule pack beside the protocol, not part of its score. `RULES` is the one table of
the rules (each with its citation, a one-line statement, where its wording was checked, and
the sources it cannot be checked from); `compliance_suite` builds a Great Expectations
suite from it (one expectation per rule, over a boolean column `ok_<rule>`: True follows
the rule, False breaks it, missing means the rule does not apply or cannot be checked from
what the reader kept). `rows_table` and `products_table` compute those columns from the
nutrients and products tables; `compliance_findings` runs the suite and turns each
unexpected row into a finding that names the rule, its citation, the line and what was
expected. The validate stage runs it chunk by chunk beside the data-quality suites, over the
changed products only (every column depends on one product's own rows), and writes
compliance.parquet (`WorkPaths.compliance`).

The rules themselves (`RULES`) are pipeline.rules.compliance's, the regulated dietary
ingredients (`REGULATED`: name patterns, order, required units, Daily Values)
pipeline.rules.regulated's. Agreement within label rounding is
pipeline.normalize.dv_consistent's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline import nutrients as nt
from pipeline.infra.gx import Validator, result_json, unexpected
from pipeline.normalize import dv_consistent, parse_dv
from pipeline.rules.compliance import RULES, RULES_BY_NAME, Rule, rule_table
from pipeline.rules.regulated import (
    CALORIE_FOOTNOTE_KEYS,
    ORDER_TEXT,
    REGULATED,
    Regulated,
    base_name,
    daily_values,
    names_a_nutrient_form,
)
from pipeline.rules.regulated import regulated as _regulated
from pipeline.units import UnitKind
from pipeline.units import lookup_unit as _lookup_unit
from pipeline.units import parse_amount as _parse_amount
from pipeline.values import fmt_number
from pipeline.values import text as _text

# The row rules look up every line's name, unit and amount (pure functions of the printed
# text, frozen results): a catalog repeats the same few thousand texts (rows_table 0.67 ->
# 0.42 s over 10,452 lines).
regulated = lru_cache(maxsize=16384)(_regulated)
lookup_unit = lru_cache(maxsize=4096)(_lookup_unit)
parse_amount = lru_cache(maxsize=16384)(_parse_amount)

if TYPE_CHECKING:
    import great_expectations as gx

__all__ = [
    "COMPLIANCE_COLUMNS",
    "ORDER_TEXT",
    "REGULATED",
    "RULES",
    "RULES_BY_NAME",
    "column_records",
    "compliance_findings",
    "findings_frame",
    "products_table",
    "records_of",
    "regulated",
    "rows_table",
    "rule_table",
    "tables_to_compliance",
]

COMPLIANCE_COLUMNS = ["source_file", "product_id", "rule", "citation", "severity", "detail"]

#: Source formats whose reader keeps the panel as printed: its heading (a panel is only read
#: under a "Supplement Facts" heading), its %DV symbols and its footnotes.
PANEL_SOURCES = frozenset({"pdf", "pdf-ocr", "image-ocr"})
#: Of those, the ones whose text is exact: OCR often drops or misreads the small %DV symbols
#: and footnotes, so a missing symbol or footnote is only a finding in a PDF's text layer
#: (a symbol or footnote that was read counts from OCR too).
EXACT_SOURCES = frozenset({"pdf"})
#: Source formats whose blank %DV is the label's: a PDF's text layer and DSLD's label JSON
#: (the CSV %DV columns are optional; OCR misreads small "<1%*" cells, as read issues).
DV_COLUMN_SOURCES = frozenset({"pdf", "dsld-json"})
#: DSLD writes a %DV of 0 for an ingredient that has none ("*" on the label).
DSLD_SOURCES = frozenset({"csv-dsld", "dsld-json"})


_MARKER = re.compile(r"^[*†‡§¶]+$")
_BLEND_WORD = re.compile(r"\b(proprietary|blend)\b", re.IGNORECASE)
_CALORIE_NOTE = re.compile(r"2[,.]?[0o]{3}\s*calorie|calorie\s+diet", re.IGNORECASE)
_NOT_ESTABLISHED = re.compile(r"not\s+established", re.IGNORECASE)


def declared_pct(dv_raw: str) -> float | None:
    """A printed %DV as a number: "38%" -> 38, "<1%*" -> 1, "4,167%" -> 4167 (a thousands
    comma, as pipeline.units reads amounts); None for a symbol or nothing."""
    text = (dv_raw or "").rstrip("*†‡ ")
    return parse_dv(text) if text else None


def _mcg(amount: tuple[float, str] | None) -> float | None:
    if amount is None:
        return None
    unit = lookup_unit(amount[1])
    if unit is None or unit.mcg_factor is None:
        return None
    return amount[0] * unit.mcg_factor


def _dv_text(amount: tuple[float, str] | None) -> str:
    return "none" if amount is None else f"{fmt_number(amount[0], 1)} {amount[1]}"


# ---- the per-row and per-product columns --------------------------------------------------


#: The columns the rules read: of the nutrient rows, and of the products.
_ROW_INPUTS = (
    "product_id",
    "source_file",
    "line_no",
    "page",
    "name_raw",
    "parent",
    "amount_raw",
    "unit_raw",
    "alt_amounts_raw",
    "dv_raw",
    "amount_mcg",
    "nutrient",
    "dv_expected_current_pct",
    "dv_expected_older_pct",
)
_PRODUCT_INPUTS = (
    "product_id",
    "source_format",
    "footnotes",
    "serving_size",
    "servings_per_container",
)


def column_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`frame.to_dict("records")` (with str keys), built from each column's list: the same
    values (Python's own scalars, NaN where a float or text column has no value, None for
    an extension column's NA) at a third to a fifth of its time (52,306 rows of the
    catalog bench: 2.64 -> 0.51 s)."""
    names = [str(k) for k in frame.columns]
    columns = [_column_values(frame.iloc[:, n]) for n in range(len(names))]
    if not columns:
        return [{} for _ in range(len(frame))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _column_values(column: pd.Series) -> list[Any]:
    values = column.tolist()
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and column.hasnans:
        return [None if v is pd.NA else v for v in values]  # (as to_dict gives them)
    return values


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts, None where a value is missing."""
    return column_records(frame.astype(object).where(frame.notna(), None))


def _line(row: Mapping[str, Any]) -> str:
    where = f"line {int(row['line_no'])}"
    page = row.get("page")
    if page is not None and not pd.isna(page):
        where += f", page {int(page)}"
    return f"{where} '{row['name_raw']}'"


def _printed(row: Mapping[str, Any]) -> str:
    parts = [_text(row.get("amount_raw")), _text(row.get("unit_raw"))]
    alt = _text(row.get("alt_amounts_raw"))
    text = " ".join(p for p in parts if p) or "no amount"
    return f"{text} {alt}" if alt else text


def expected_dv(row: Mapping[str, Any], reg: Regulated) -> tuple[float | None, float | None]:
    """The %DV a line's amount gives under the 2016 and the older Daily Value (None where
    it cannot be computed). The protocol nutrients' come from the nutrients table."""
    current, older = daily_values(reg)
    amount_mcg = row.get("amount_mcg")
    expected_now = expected_old = None
    unit = lookup_unit(row.get("unit_raw"))
    if reg.protocol_key is not None and row.get("nutrient") in nt.NUTRIENTS:
        expected_now = row.get("dv_expected_current_pct")
        expected_old = row.get("dv_expected_older_pct")
    elif (
        amount_mcg is not None
        and not pd.isna(amount_mcg)
        and unit is not None
        and unit.kind is UnitKind.MASS
    ):
        now_mcg, old_mcg = _mcg(current), _mcg(older)
        expected_now = amount_mcg / now_mcg * 100 if now_mcg else None
        expected_old = amount_mcg / old_mcg * 100 if old_mcg else None
    amount = parse_amount(row.get("amount_raw"))
    if unit is not None and unit.kind is UnitKind.IU and older and older[1] == "IU" and amount:
        expected_old = amount.value / older[0] * 100  # an older label's IU against the IU DV
    now = None if expected_now is None or pd.isna(expected_now) else float(expected_now)
    old = None if expected_old is None or pd.isna(expected_old) else float(expected_old)
    return now, old


def _dv_check(
    row: Mapping[str, Any], reg: Regulated, declared: float
) -> tuple[bool | None, str | None]:
    """(agrees with the 2016 DV?, what was expected) for a declared %DV."""
    current, older = daily_values(reg)
    now, old = expected_dv(row, reg)
    if now is not None and dv_consistent(declared, now, now):
        return True, None
    said = f"declared {_text(row.get('dv_raw'))} for {_printed(row)}"
    if old is not None and dv_consistent(declared, old, old):
        why = (
            f"{said} matches the pre-2016 Daily Value ({_dv_text(older)}, {round(old)}%), "
            f"not the 2016 one ({_dv_text(current)}"
            + (f", expected {round(now)}%)" if now is not None else ")")
        )
        return False, why
    if now is None:
        return None, None  # the amount cannot be compared with the 2016 DV
    return False, (
        f"{said}: expected {round(now)}% of the 2016 Daily Value ({_dv_text(current)})"
        + (f" (or {round(old)}% of the older {_dv_text(older)})" if old is not None else "")
    )


def rows_table(nutrients: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """The nutrient rows with one `ok_<rule>` column per row rule (True, False or None)
    and `why_<rule>` (what was expected where it is False), in product and line order."""
    formats = dict(
        zip(products["product_id"].tolist(), products["source_format"].tolist(), strict=True)
    )
    table = nutrients.sort_values(["product_id", "line_no"], kind="stable").reset_index(drop=True)
    records = records_of(table[[c for c in _ROW_INPUTS if c in table.columns]])
    parents: dict[str, set[str]] = {}
    for record in records:
        if isinstance(record.get("parent"), str):
            parents.setdefault(record["product_id"], set()).add(record["parent"])
    out: dict[str, list[Any]] = {}
    for rule in RULES:
        if rule.level == "row":
            out[rule.column] = []
            out[f"why_{rule.name}"] = []
    last_order: dict[str, tuple[int, Mapping[str, Any], str]] = {}
    for record in records:
        pid = record["product_id"]
        source = formats.get(pid, "")
        found = _row_checks(record, source, parents.get(pid, set()), last_order.get(pid))
        for rule_name, (ok, why) in found.items():
            out[f"ok_{rule_name}"].append(ok)
            out[f"why_{rule_name}"].append(why)
        reg = regulated(record["name_raw"])
        if reg is not None and reg.order is not None and not isinstance(record["parent"], str):
            previous = last_order.get(pid)
            if previous is None or reg.order >= previous[0]:
                last_order[pid] = (reg.order, record, reg.display)
    for column, values in out.items():
        table[column] = pd.Series(values, index=table.index, dtype=object)
    table["row_id"] = table.index
    return table


#: The names of the row rules (the ones _row_checks assesses).
_ROW_RULES = tuple(rule.name for rule in RULES if rule.level == "row")


def _row_checks(
    row: Mapping[str, Any],
    source: str,
    blend_names: set[str],
    before: tuple[int, Mapping[str, Any], str] | None,
) -> dict[str, tuple[bool | None, str | None]]:
    """Each row rule's (ok, what was expected) for one panel line."""
    reg = regulated(row["name_raw"])
    member = isinstance(row.get("parent"), str)
    unit = lookup_unit(row.get("unit_raw"))
    amount = parse_amount(row.get("amount_raw"))
    given = amount is not None and not (unit is not None and unit.kind is UnitKind.NOT_PROVIDED)
    dv_raw = _text(row.get("dv_raw"))
    declared = declared_pct(dv_raw)
    if source not in PANEL_SOURCES and declared == 0:
        # DSLD (and CSVs made from it) write 0 where the label gives no %DV, and for "<1%"
        expected_pct = expected_dv(row, reg) if reg is not None else (None, None)
        below_one = any(e is not None and e < 1 for e in expected_pct)
        declared = 0.5 if below_one else None
    marker = bool(_MARKER.match(dv_raw))
    current = daily_values(reg)[0] if reg is not None else None
    line = _line(row)
    # (None, None): not assessed, until a rule below applies to the line
    found: dict[str, tuple[bool | None, str | None]] = dict.fromkeys(_ROW_RULES, (None, None))

    if reg is not None and reg.units and given:
        wanted = " or ".join(reg.units)
        why = f"{line}: {_printed(row)}: expected {reg.display} in {wanted}"
        if unit is not None and unit.kind is UnitKind.IU:
            why += " (IU only in parentheses after it; IU alone is the pre-2016 unit)"
        found["units"] = _unless(unit is not None and unit.canonical in reg.units, why)

    if (
        reg is not None
        and current is not None
        and given
        and not member
        and reg.key != "protein"
        and source in DV_COLUMN_SOURCES
        and amount is not None
        and amount.value > 0
    ):
        printed = f"'{dv_raw}'" if dv_raw and source not in DSLD_SOURCES else "no %DV"
        found["dv_declared"] = _unless(
            declared is not None,
            f"{line}: {_printed(row)} has a Daily Value ({_dv_text(current)}) but its "
            f"%DV column gives {printed}: expected a %DV",
        )

    if reg is not None and current is not None and declared is not None and given:
        ok, expected = _dv_check(row, reg, declared)
        found["dv_2016"] = (ok, f"{line}: {expected}" if expected else None)

    if reg is None and not member and not names_a_nutrient_form(row["name_raw"]):
        if declared is not None:
            found["no_dv_symbol"] = (
                False,
                f"{line} has no Daily Value but gives {dv_raw}: expected a symbol (*) that "
                "refers to 'Daily Value not established', and no %DV",
            )
        elif marker:
            found["no_dv_symbol"] = (True, None)
        elif source in EXACT_SOURCES:
            found["no_dv_symbol"] = (
                False,
                f"{line} has no Daily Value and no symbol in the %DV column: expected a "
                "symbol (*) that refers to 'Daily Value not established'",
            )

    if reg is not None and reg.order is not None and not member:
        if before is None or reg.order >= before[0]:
            found["order"] = (True, None)
        else:
            found["order"] = (
                False,
                f"{line} is listed after {_line(before[1])}: expected {reg.display.lower()} "
                f"before {before[2].lower()} (the order of 101.36(b)(2)(i)(B))",
            )

    if reg is not None and current is not None and given and amount is not None:
        found["zero"] = _unless(
            amount.value != 0,
            f"{line} is declared at zero ({_printed(row)}): expected it left off the panel",
        )

    name = _text(row.get("name_raw"))
    is_total = reg is None and (name in blend_names or bool(_BLEND_WORD.search(name)))
    is_total = is_total and not names_a_nutrient_form(name)
    if is_total and not member:
        weight = given and unit is not None and unit.kind is UnitKind.MASS
        what = "no name" if not base_name(name) else f"gives {_printed(row)}"
        found["blend"] = _unless(
            weight and bool(base_name(name)),
            f"{line}: the blend {what}: expected its name and total weight (e.g. 500 mg)",
        )
    return found


def _unless(ok: bool, why: str) -> tuple[bool, str | None]:
    """A rule's (ok, why): passed, or failed with `why`."""
    return (True, None) if ok else (False, why)


#: The footnote rules: (name, the footnote's pattern, what is missing after the line that
#: needs it).
_FOOTNOTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "calorie_footnote",
        _CALORIE_NOTE,
        "gives a %DV, but the panel has no footnote 'Percent Daily Values are based on a "
        "2,000 calorie diet'",
    ),
    (
        "dv_not_established_footnote",
        _NOT_ESTABLISHED,
        "has no Daily Value, but the panel has no footnote 'Daily Value not established' for "
        "its symbol to refer to",
    ),
)


def _footnote_check(
    line: str | None, found: bool, panel: bool, exact: bool, missing: str
) -> tuple[bool | None, str | None]:
    """A footnote the panel must have when a `line` needs one: not assessed without such a
    line or off a panel; passed when `found`; else failed (why: `missing`) where the source
    keeps every footnote (`exact`), not assessed where it may not."""
    if line is None or not panel:
        return None, None
    if found:
        return True, None
    return (False, missing) if exact else (None, None)


def products_table(products: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The products with one `ok_<rule>` column per product rule and `why_<rule>`.

    `rows`: `rows_table` of their nutrient rows (for the footnote rules)."""
    # footnote rule -> product -> the first line that needs the footnote
    needs: dict[str, dict[str, str]] = {name: {} for name, _, _ in _FOOTNOTES}
    for row in records_of(rows[["product_id", "name_raw", "parent", "dv_raw", "line_no", "page"]]):
        if isinstance(row.get("parent"), str):
            continue
        reg = regulated(row["name_raw"])
        pid = row["product_id"]
        dv_raw = _text(row.get("dv_raw"))
        if (
            reg is not None
            and reg.key in CALORIE_FOOTNOTE_KEYS
            and declared_pct(dv_raw) is not None
        ):
            needs["calorie_footnote"].setdefault(pid, _line(row))
        if reg is None and not names_a_nutrient_form(row["name_raw"]):
            needs["dv_not_established_footnote"].setdefault(pid, _line(row))
    table = products.reset_index(drop=True).copy()
    columns: dict[str, list[Any]] = {
        f"{kind}_{rule.name}": []
        for rule in RULES
        if rule.level == "product"
        for kind in ("ok", "why")
    }
    for product in records_of(table[list(_PRODUCT_INPUTS)]):
        pid = product["product_id"]
        source = _text(product.get("source_format"))
        footnotes = _text(product.get("footnotes"))
        panel = source in PANEL_SOURCES
        exact = source in EXACT_SOURCES
        checks: dict[str, tuple[bool | None, str | None]] = {
            "heading": (True if panel else None, None),
            "serving_size": (
                (True, None)
                if _text(product.get("serving_size"))
                else (False, 'the panel states no serving size: expected "Serving Size ..."')
            ),
        }
        if source == "csv-dsld":
            checks["servings_per_container"] = (None, None)
        elif _text(product.get("servings_per_container")):
            checks["servings_per_container"] = (True, None)
        else:
            checks["servings_per_container"] = (
                False,
                'the panel states no "Servings Per Container": expected it, unless the net '
                "quantity of contents states the number of servings (the net quantity is not "
                "read: check it on the label)",
            )
        for name, pattern, missing in _FOOTNOTES:
            line = needs[name].get(pid)
            checks[name] = _footnote_check(
                line, pattern.search(footnotes) is not None, panel, exact, f"{line} {missing}"
            )
        for name, (ok, why) in checks.items():
            columns[f"ok_{name}"].append(ok)
            columns[f"why_{name}"].append(why)
    for column, values in columns.items():
        table[column] = pd.Series(values, index=table.index, dtype=object)
    return table


# ---- the suite and its findings ----------------------------------------------------------


def compliance_suite(level: str) -> gx.ExpectationSuite:
    """One expectation per rule of `level` ("row" or "product"): its column is True."""
    # Start-up time: GX's import takes seconds (~9 s measured with python -X importtime on
    # a loaded machine): only a run that validates pays it (pipeline.infra.gx)
    import great_expectations as gx

    from pipeline.expectations import gx_expectation

    suite = gx.ExpectationSuite(name=f"compliance_{level}s")
    for rule in RULES:
        if rule.level == level:
            suite.add_expectation(gx_expectation(rule.expect))
    return suite


def _severity(rule: Rule, detail: str) -> str:
    if rule.name == "dv_2016" and "pre-2016 Daily Value" in detail:
        return "warning"  # an older label: the old DV, named as such
    return rule.severity


def compliance_findings(
    nutrients: pd.DataFrame, products: pd.DataFrame, validator: Validator
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The compliance suites over the rows and products: one finding per unexpected row,
    and the two GX results (as JSON dicts)."""
    rows = rows_table(nutrients, products)
    table = products_table(products, rows)
    findings: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    for level, frame, index in (("row", rows, "row_id"), ("product", table, "product_id")):
        columns = [
            index,
            *(c for c in ("source_file", "product_id") if c != index),
            *(
                c
                for rule in RULES
                if rule.level == level
                for c in (rule.column, f"why_{rule.name}")
            ),
        ]
        checked = frame[columns]
        result = validator.run(compliance_suite(level), checked, [index])
        position = {key: n for n, key in enumerate(frame[index].tolist())}
        files, pids = frame["source_file"].tolist(), frame["product_id"].tolist()
        lines = frame["line_no"].tolist() if level == "row" else None
        for res in result.results:
            rule = RULES_BY_NAME[res.expectation_config.meta["rule"]]
            why = frame[f"why_{rule.name}"].tolist()
            for key in unexpected(res):
                at = position[key]
                detail = str(why[at])
                findings.append(
                    {
                        "source_file": files[at],
                        "product_id": pids[at],
                        "rule": rule.name,
                        "citation": rule.citation,
                        "severity": _severity(rule, detail),
                        "detail": detail,
                        "line_no": None if lines is None else int(lines[at]),
                    }
                )
        results[level] = result_json(result)
    return findings, results


def findings_frame(findings: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Compliance findings in a stable order (by file, product, rule order, line)."""
    return sorted_findings(pd.DataFrame(list(findings), columns=[*COMPLIANCE_COLUMNS, "line_no"]))


def sorted_findings(frame: pd.DataFrame) -> pd.DataFrame:
    """`findings_frame` of a frame of the findings (COMPLIANCE_COLUMNS and line_no) in the
    order they were found (pipeline.finding_columns.FindingColumns.frame)."""
    frame["line_no"] = frame["line_no"].astype("Int64")
    rank = {rule.name: n for n, rule in enumerate(RULES)}
    frame["_rank"] = frame["rule"].map(rank)
    frame = frame.sort_values(
        ["source_file", "product_id", "_rank", "line_no", "detail"], na_position="first"
    )
    return frame.drop(columns="_rank").reset_index(drop=True)


def tables_to_compliance(
    nutrients: pd.DataFrame, products: pd.DataFrame, validator: Validator | None = None
) -> pd.DataFrame:
    """Compliance findings of whole tables (for tests and scripts)."""
    found, _ = compliance_findings(nutrients, products, validator or Validator())
    return findings_frame(found)
