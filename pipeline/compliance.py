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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline import nutrients as nt
from pipeline.infra.gx import Validator, result_json, unexpected
from pipeline.normalize import parse_dv, within_label_rounding
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

# The row rules look up each distinct name, unit and amount of a chunk once (`_Distinct`);
# these caches (pure functions of the printed text, frozen results) keep the lookups from
# one chunk to the next: a catalog repeats the same few thousand texts.
regulated = lru_cache(maxsize=16384)(_regulated)
lookup_unit = lru_cache(maxsize=4096)(_lookup_unit)
parse_amount = lru_cache(maxsize=16384)(_parse_amount)

if TYPE_CHECKING:
    from pathlib import Path

    import great_expectations as gx
    import pyarrow as pa  # type: ignore[import-untyped]


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


def _values(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column's values as Python objects, None where missing (None, NaN or NA), as
    `records_of` gives them; all None without the column."""
    if name not in frame.columns:
        return [None] * len(frame)
    column = frame[name]
    values = column.to_numpy(dtype=object, copy=True)
    values[column.isna().to_numpy(dtype=bool)] = None
    return list(values.tolist())


def _floats(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64, NaN where missing (all NaN without the column)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[name].to_numpy(dtype=float, na_value=np.nan)


class _Distinct:
    """A column as codes into its distinct values (None for a missing one, as `records_of`
    gives it): what is looked up once per distinct value is spread back to the rows."""

    def __init__(self, frame: pd.DataFrame, name: str) -> None:
        if name in frame.columns:
            codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
            self.codes = np.asarray(codes)
            values = np.asarray(uniques, dtype=object)
            values[pd.isna(values)] = None
            self.values: list[Any] = values.tolist()
        else:
            self.codes = np.zeros(len(frame), dtype=np.intp)
            self.values = [None]

    def map(self, fn: Callable[[Any], Any]) -> list[Any]:
        """`fn` of each distinct value."""
        return [fn(value) for value in self.values]

    def spread(self, per_value: list[Any], dtype: Any = object) -> np.ndarray:
        """A value per distinct value as a column."""
        if dtype is object:
            array = np.empty(len(per_value), dtype=object)
            for n, value in enumerate(per_value):
                array[n] = value
        else:
            array = np.array(per_value, dtype=dtype)
        return array[self.codes]

    def flags(self, fn: Callable[[Any], Any]) -> np.ndarray:
        """`bool(fn(value))` of each row's value (computed once per distinct value)."""
        return self.spread([bool(fn(value)) for value in self.values], bool)


def _line_text(line_no: Any, page: Any, name_raw: Any) -> str:
    """How a finding names a panel line: "line 3, page 1 'Calcium'"."""
    where = f"line {int(line_no)}"
    if page is not None and not pd.isna(page):
        where += f", page {int(page)}"
    return f"{where} '{name_raw}'"


def _printed_text(amount_raw: Any, unit_raw: Any, alt_amounts_raw: Any) -> str:
    """A line's amount as printed: "500 mg (20,000 IU)", or "no amount"."""
    parts = [_text(amount_raw), _text(unit_raw)]
    alt = _text(alt_amounts_raw)
    text = " ".join(p for p in parts if p) or "no amount"
    return f"{text} {alt}" if alt else text


@dataclass(frozen=True)
class _NameFacts:
    """What the row rules read of a printed name (looked up once per distinct name)."""

    reg: Regulated | None
    current: tuple[float, str] | None  # the 2016 DV
    older: tuple[float, str] | None
    current_text: str  # _dv_text of each
    older_text: str
    current_mcg: float  # the DV in mcg (NaN: none, zero or not a mass)
    older_mcg: float
    older_iu: float  # the older DV where it is in IU (else NaN)
    nutrient_form: bool  # names_a_nutrient_form of the name as printed
    blend_word: bool  # of the stripped name: "proprietary" or "blend"
    text_nutrient_form: bool  # names_a_nutrient_form of the stripped name
    has_base: bool  # the stripped name has a base name


def _name_facts(name_raw: Any) -> _NameFacts:
    reg = regulated(name_raw)
    current, older = daily_values(reg) if reg is not None else (None, None)
    now_mcg, old_mcg = _mcg(current), _mcg(older)
    name = _text(name_raw)
    return _NameFacts(
        reg=reg,
        current=current,
        older=older,
        current_text=_dv_text(current),
        older_text=_dv_text(older),
        current_mcg=now_mcg if now_mcg else np.nan,  # (a DV of 0 gives no %DV either)
        older_mcg=old_mcg if old_mcg else np.nan,
        older_iu=older[0] if older and older[1] == "IU" else np.nan,
        nutrient_form=names_a_nutrient_form(name_raw),
        blend_word=bool(_BLEND_WORD.search(name)),
        text_nutrient_form=names_a_nutrient_form(name),
        has_base=bool(base_name(name)),
    )


def rows_table(nutrients: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """The nutrient rows with one `ok_<rule>` column per row rule (True, False or None)
    and `why_<rule>` (what was expected where it is False), in product and line order.

    Column-wise: each name, unit, amount and %DV text is looked up once, the rules are
    boolean columns, and a detail is written only for a line that breaks its rule."""
    formats = dict(
        zip(products["product_id"].tolist(), products["source_format"].tolist(), strict=True)
    )
    table = nutrients.sort_values(["product_id", "line_no"], kind="stable").reset_index(drop=True)
    found = _row_rules(table, formats)
    for rule in RULES:
        if rule.level == "row":
            ok, why = found[rule.name]
            table[rule.column] = pd.Series(ok, index=table.index, dtype=object)
            table[f"why_{rule.name}"] = pd.Series(why, index=table.index, dtype=object)
    table["row_id"] = table.index
    return table


#: The names of the row rules (the ones _row_rules assesses).
_ROW_RULES = tuple(rule.name for rule in RULES if rule.level == "row")


def _row_rules(
    table: pd.DataFrame, formats: Mapping[Any, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each row rule's (ok, what was expected) columns over the panel lines of `table` (in
    product and line order; `formats`: product -> source format). ok is True, False or
    None (not assessed); the detail is None unless ok is False."""
    n = len(table)
    pid_of = _Distinct(table, "product_id")
    name_of = _Distinct(table, "name_raw")
    unit_of = _Distinct(table, "unit_raw")
    amount_of = _Distinct(table, "amount_raw")
    dv_of = _Distinct(table, "dv_raw")
    parent_of = _Distinct(table, "parent")
    facts = name_of.map(_name_facts)
    fact = name_of.spread(facts)
    units = unit_of.map(lookup_unit)
    unit = unit_of.spread(units)
    amounts = amount_of.map(parse_amount)
    dv_texts = dv_of.spread(dv_of.map(_text))
    sources = pid_of.map(lambda pid: formats.get(pid, ""))
    source = pid_of.spread(sources)
    pids = pid_of.spread(pid_of.values)
    line_nos, pages = _values(table, "line_no"), _values(table, "page")
    alts = _values(table, "alt_amounts_raw")
    printed_of: dict[tuple[Any, Any, Any], str] = {}

    def line(i: int) -> str:
        return _line_text(line_nos[i], pages[i], name_of.values[name_of.codes[i]])

    def printed(i: int) -> str:
        key = (amount_of.values[amount_of.codes[i]], unit_of.values[unit_of.codes[i]], alts[i])
        if key not in printed_of:
            printed_of[key] = _printed_text(*key)
        return printed_of[key]

    def reg_at(i: int) -> Regulated:
        reg = fact[i].reg
        assert reg is not None
        return reg

    regs = [f.reg for f in facts]
    is_reg = name_of.spread([r is not None for r in regs], bool)
    has_current = name_of.spread([f.current is not None for f in facts], bool)
    member = parent_of.flags(lambda parent: isinstance(parent, str))
    kinds = [None if u is None else u.kind for u in units]
    mass = unit_of.spread([k is UnitKind.MASS for k in kinds], bool)
    iu = unit_of.spread([k is UnitKind.IU for k in kinds], bool)
    has_amount = amount_of.spread([a is not None for a in amounts], bool)
    value = amount_of.spread([np.nan if a is None else a.value for a in amounts], float)
    given = has_amount & ~unit_of.spread([k is UnitKind.NOT_PROVIDED for k in kinds], bool)
    panel = pid_of.spread([s in PANEL_SOURCES for s in sources], bool)

    # the %DV the amount gives under the 2016 and the older DV (NaN: cannot be computed);
    # the protocol nutrients' come from the nutrients table
    protocol = _Distinct(table, "nutrient").flags(lambda nutrient: nutrient in nt.NUTRIENTS)
    protocol &= name_of.spread([r is not None and r.protocol_key is not None for r in regs], bool)
    amount_mcg = _floats(table, "amount_mcg")
    by_mass = ~protocol & ~np.isnan(amount_mcg) & mass
    now_mcg = name_of.spread([f.current_mcg for f in facts], float)
    old_mcg = name_of.spread([f.older_mcg for f in facts], float)
    older_iu = name_of.spread([f.older_iu for f in facts], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        now = np.where(by_mass, amount_mcg / now_mcg * 100, np.nan)
        old = np.where(by_mass, amount_mcg / old_mcg * 100, np.nan)
        now = np.where(protocol, _floats(table, "dv_expected_current_pct"), now)
        old = np.where(protocol, _floats(table, "dv_expected_older_pct"), old)
        by_iu = iu & ~np.isnan(older_iu) & has_amount  # an older label's IU against the IU DV
        old = np.where(by_iu, value / older_iu * 100, old)
    now[~is_reg] = np.nan
    old[~is_reg] = np.nan

    declared = dv_of.spread(dv_of.map(lambda dv: declared_pct(_text(dv))), float)
    # DSLD (and CSVs made from it) write 0 where the label gives no %DV, and for "<1%"
    below_one = (now < 1) | (old < 1)
    declared = np.where(~panel & (declared == 0), np.where(below_one, 0.5, np.nan), declared)
    known = ~np.isnan(declared)

    ok_of = {name: np.full(n, None, dtype=object) for name in _ROW_RULES}
    why_of = {name: np.full(n, None, dtype=object) for name in _ROW_RULES}

    def assess(rule: str, applies: np.ndarray, ok: np.ndarray, why: Callable[[int], str]) -> None:
        """The rule is assessed where it `applies`: passed where `ok`, else failed."""
        ok_of[rule][applies] = ok[applies]
        for i in np.flatnonzero(applies & ~ok).tolist():
            why_of[rule][i] = why(i)

    def units_why(i: int) -> str:
        reg = reg_at(i)
        why = f"{line(i)}: {printed(i)}: expected {reg.display} in {' or '.join(reg.units)}"
        if iu[i]:
            why += " (IU only in parentheses after it; IU alone is the pre-2016 unit)"
        return why

    applies = is_reg & given & name_of.spread([r is not None and bool(r.units) for r in regs], bool)
    unit_ok = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(applies).tolist():
        unit_ok[i] = unit[i] is not None and unit[i].canonical in reg_at(i).units
    assess("units", applies, unit_ok, units_why)

    def declared_why(i: int) -> str:
        dv = dv_texts[i]
        shown = f"'{dv}'" if dv and source[i] not in DSLD_SOURCES else "no %DV"
        return (
            f"{line(i)}: {printed(i)} has a Daily Value ({fact[i].current_text}) but its "
            f"%DV column gives {shown}: expected a %DV"
        )

    with np.errstate(invalid="ignore"):
        positive = value > 0
    applies = (
        has_current
        & given
        & ~member
        & name_of.spread([r is not None and r.key != "protein" for r in regs], bool)
        & pid_of.spread([s in DV_COLUMN_SOURCES for s in sources], bool)
        & positive
    )
    assess("dv_declared", applies, known, declared_why)

    now_ok = within_label_rounding(declared, now)
    old_ok = within_label_rounding(declared, old)

    def dv_2016_why(i: int) -> str:
        facts_i = fact[i]
        said = f"declared {dv_texts[i]} for {printed(i)}"
        expected_now, expected_old = float(now[i]), float(old[i])
        if old_ok[i]:
            return (
                f"{line(i)}: {said} matches the pre-2016 Daily Value ({facts_i.older_text}, "
                f"{round(expected_old)}%), not the 2016 one ({facts_i.current_text}"
                + (f", expected {round(expected_now)}%)" if expected_now == expected_now else ")")
            )
        return (
            f"{line(i)}: {said}: expected {round(expected_now)}% of the 2016 Daily Value "
            f"({facts_i.current_text})"
            + (
                f" (or {round(expected_old)}% of the older {facts_i.older_text})"
                if expected_old == expected_old  # (not NaN)
                else ""
            )
        )

    # not assessed where the amount cannot be compared with the 2016 DV (unless it matches
    # the older one)
    applies = has_current & known & given & (now_ok | old_ok | ~np.isnan(now))
    assess("dv_2016", applies, now_ok, dv_2016_why)

    no_dv = ~is_reg & ~member & ~name_of.spread([f.nutrient_form for f in facts], bool)
    marker = dv_of.flags(lambda dv: _MARKER.match(_text(dv)))
    exact = pid_of.spread([s in EXACT_SOURCES for s in sources], bool)

    def no_dv_why(i: int) -> str:
        if known[i]:
            return (
                f"{line(i)} has no Daily Value but gives {dv_texts[i]}: expected a symbol (*) "
                "that refers to 'Daily Value not established', and no %DV"
            )
        return (
            f"{line(i)} has no Daily Value and no symbol in the %DV column: expected a "
            "symbol (*) that refers to 'Daily Value not established'"
        )

    assess("no_dv_symbol", no_dv & (known | marker | exact), ~known & marker, no_dv_why)

    # order: after the line of the highest place so far in its product (the last such line)
    places = [-1 if r is None or r.order is None else r.order for r in regs]
    place = name_of.spread(places, np.int64)
    ordered = ~member & (place >= 0)
    order_ok = np.zeros(n, dtype=bool)
    before: dict[int, int] = {}
    last: dict[Any, tuple[int, int]] = {}
    for i in np.flatnonzero(ordered).tolist():
        previous = last.get(pids[i])
        if previous is None or place[i] >= previous[0]:
            order_ok[i] = True
            last[pids[i]] = (place[i], i)
        else:
            before[i] = previous[1]

    def order_why(i: int) -> str:
        return (
            f"{line(i)} is listed after {line(before[i])}: expected "
            f"{reg_at(i).display.lower()} before {reg_at(before[i]).display.lower()} "
            "(the order of 101.36(b)(2)(i)(B))"
        )

    assess("order", ordered, order_ok, order_why)

    assess(
        "zero",
        has_current & given,
        value != 0,
        lambda i: f"{line(i)} is declared at zero ({printed(i)}): expected it left off the panel",
    )

    # a blend's total: a line that names a blend, or that other lines of its product name as
    # their parent
    parents = parent_of.spread(parent_of.values)
    blends = {(pids[i], parents[i]) for i in np.flatnonzero(member).tolist()}
    texts = name_of.spread(name_of.map(_text))
    in_blend = np.zeros(n, dtype=bool)
    if blends:
        for i in np.flatnonzero(~is_reg).tolist():
            in_blend[i] = (pids[i], texts[i]) in blends
    total = (
        ~is_reg
        & (in_blend | name_of.spread([f.blend_word for f in facts], bool))
        & ~name_of.spread([f.text_nutrient_form for f in facts], bool)
    )
    has_base = name_of.spread([f.has_base for f in facts], bool)

    def blend_why(i: int) -> str:
        what = f"gives {printed(i)}" if has_base[i] else "no name"
        return f"{line(i)}: the blend {what}: expected its name and total weight (e.g. 500 mg)"

    assess("blend", total & ~member, given & mass & has_base, blend_why)
    return {name: (ok_of[name], why_of[name]) for name in _ROW_RULES}


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


def _footnote_needs(rows: pd.DataFrame) -> dict[str, dict[Any, str]]:
    """Footnote rule -> product -> the first line (of `rows`, in their order) that needs
    the footnote: a %DV of a nutrient whose %DV needs the calorie footnote, a line without
    a Daily Value (not a blend member either)."""
    pid_of = _Distinct(rows, "product_id")
    name_of = _Distinct(rows, "name_raw")
    regs = name_of.map(regulated)
    top = ~_Distinct(rows, "parent").flags(lambda parent: isinstance(parent, str))
    gives_dv = _Distinct(rows, "dv_raw").flags(lambda dv: declared_pct(_text(dv)) is not None)
    calorie = name_of.spread([r is not None and r.key in CALORIE_FOOTNOTE_KEYS for r in regs], bool)
    no_dv = name_of.spread(
        [
            r is None and not names_a_nutrient_form(v)
            for r, v in zip(regs, name_of.values, strict=True)
        ],
        bool,
    )
    line_nos, pages = _values(rows, "line_no"), _values(rows, "page")
    needs: dict[str, dict[Any, str]] = {}
    for name, mask in (
        ("calorie_footnote", top & gives_dv & calorie),
        ("dv_not_established_footnote", top & no_dv),
    ):
        first: dict[Any, int] = {}
        for i in np.flatnonzero(mask).tolist():
            first.setdefault(pid_of.values[pid_of.codes[i]], i)
        needs[name] = {
            pid: _line_text(line_nos[i], pages[i], name_of.values[name_of.codes[i]])
            for pid, i in first.items()
        }
    return needs


def products_table(products: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The products with one `ok_<rule>` column per product rule and `why_<rule>`.

    `rows`: `rows_table` of their nutrient rows (for the footnote rules)."""
    needs = _footnote_needs(rows)
    table = products.reset_index(drop=True).copy()
    n = len(table)
    pids = _values(table, "product_id")
    sources = [_text(v) for v in _values(table, "source_format")]
    footnotes = [_text(v) for v in _values(table, "footnotes")]
    panel = [s in PANEL_SOURCES for s in sources]
    exact = [s in EXACT_SOURCES for s in sources]
    checks: dict[str, tuple[list[Any], list[Any]]] = {
        "heading": ([True if p else None for p in panel], [None] * n),
    }
    serving = [bool(_text(v)) for v in _values(table, "serving_size")]
    checks["serving_size"] = (
        list(serving),
        [
            None if s else 'the panel states no serving size: expected "Serving Size ..."'
            for s in serving
        ],
    )
    servings = [bool(_text(v)) for v in _values(table, "servings_per_container")]
    missing_servings = (
        'the panel states no "Servings Per Container": expected it, unless the net '
        "quantity of contents states the number of servings (the net quantity is not "
        "read: check it on the label)"
    )
    spc = [
        (None, None) if s == "csv-dsld" else (True, None) if given else (False, missing_servings)
        for s, given in zip(sources, servings, strict=True)
    ]
    checks["servings_per_container"] = ([ok for ok, _ in spc], [why for _, why in spc])
    for name, pattern, missing in _FOOTNOTES:
        found = []
        for pid, text, on_panel, is_exact in zip(pids, footnotes, panel, exact, strict=True):
            line = needs[name].get(pid)
            found.append(
                _footnote_check(
                    line,
                    line is not None and on_panel and pattern.search(text) is not None,
                    on_panel,
                    is_exact,
                    f"{line} {missing}",
                )
            )
        checks[name] = ([ok for ok, _ in found], [why for _, why in found])
    for rule in RULES:
        if rule.level == "product":
            ok, why = checks[rule.name]
            table[f"ok_{rule.name}"] = pd.Series(ok, index=table.index, dtype=object)
            table[f"why_{rule.name}"] = pd.Series(why, index=table.index, dtype=object)
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


def _severities(rule: Rule, details: list[str]) -> list[str]:
    """`_severity` of each detail of one rule's findings."""
    if rule.name != "dv_2016":
        return [rule.severity] * len(details)
    return [_severity(rule, detail) for detail in details]


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
        position = dict(zip(frame[index].tolist(), range(len(frame)), strict=True))
        files, pids = frame["source_file"].tolist(), frame["product_id"].tolist()
        lines = frame["line_no"].tolist() if level == "row" else None
        for res in result.results:
            rule = RULES_BY_NAME[res.expectation_config.meta["rule"]]
            at = [position[key] for key in unexpected(res)]
            if not at:
                continue
            why = frame[f"why_{rule.name}"].tolist()
            details = [str(why[n]) for n in at]
            findings.extend(
                {
                    "source_file": files[n],
                    "product_id": pids[n],
                    "rule": rule.name,
                    "citation": rule.citation,
                    "severity": severity,
                    "detail": detail,
                    "line_no": None if lines is None else int(lines[n]),
                }
                for n, detail, severity in zip(at, details, _severities(rule, details), strict=True)
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


def sorted_table(table: pa.Table) -> pa.Table:
    """`table` (COMPLIANCE_COLUMNS and line_no, its text plain or dictionary-encoded:
    pipeline.finding_columns.FindingColumns.table) in `sorted_findings`' order, sorted in
    Arrow on keys of its columns, its text left as it is (issue 16, memory: pandas sorted
    a copy of the whole frame, and the frame's strings were a copy of the table's; the
    validation process of a 200,000-label catalog peaked ~200 MB higher while they were
    made). `write_findings` writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    from pipeline.finding_columns import order_keys

    if not table.num_rows:
        return table
    rules = pa.array([rule.name for rule in RULES], pa.string())
    keys = pa.table(
        {
            "source_file": order_keys(table["source_file"]),
            "product_id": order_keys(table["product_id"]),
            # a rule not in RULES (or none) first, as pandas puts its NaN rank
            "rank": pc.index_in(table["rule"].cast(pa.string()), value_set=rules),
            "line_no": table["line_no"],
            "detail": order_keys(table["detail"]),
        }
    )
    # pandas' multi-key sort is stable and puts missing values first, as this sort does
    order = pc.sort_indices(
        keys, sort_keys=[(name, "ascending", "at_start") for name in keys.column_names]
    )
    del keys
    return table.take(order)


def write_findings(path: Path, table: pa.Table) -> None:
    """compliance.parquet from `sorted_table`: the file pandas wrote of the frame
    (`sorted_findings_of_table`: its schema and pandas' description of its columns, taken
    from the frame of its first row: `line_no` Int64), its text made plain a slice at a
    time (pipeline.infra.atomic.atomic_write_cast)."""
    import pyarrow as pa

    from pipeline.infra.atomic import atomic_write_cast

    first = sorted_findings_of_table(table.slice(0, 1))
    atomic_write_cast(path, table, pa.Schema.from_pandas(first, preserve_index=False))


def sorted_findings_of_table(table: pa.Table) -> pd.DataFrame:
    """`sorted_findings` of the frame of `table` (as `sorted_table`), as a frame."""
    from pipeline.finding_columns import COMPLIANCE_SCHEMA, expanded

    if not table.num_rows:
        return sorted_findings(pd.DataFrame([], columns=COMPLIANCE_SCHEMA.names))
    ordered = expanded(sorted_table(table), COMPLIANCE_SCHEMA)
    frame = ordered.to_pandas(split_blocks=True, self_destruct=True)[COMPLIANCE_SCHEMA.names]
    frame["line_no"] = frame["line_no"].astype("Int64")
    return frame


def tables_to_compliance(
    nutrients: pd.DataFrame, products: pd.DataFrame, validator: Validator | None = None
) -> pd.DataFrame:
    """Compliance findings of whole tables (for tests and scripts)."""
    found, _ = compliance_findings(nutrients, products, validator or Validator())
    return findings_frame(found)
