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

Daily Values: those of the protocol nutrients (calcium, magnesium, vitamins D and K) are
pipeline.nutrients' and their expected %DV comes from the nutrients table; the others (the
2016 rule's and the older ones, 21 CFR 101.9(c)(8)(iv) and (c)(9)) are in `REGULATED`,
beside the nutrient's name patterns, order and required unit. Agreement within label
rounding is pipeline.normalize.dv_consistent's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline import nutrients as nt
from pipeline.normalize import dv_consistent, parse_dv
from pipeline.units import UnitKind, lookup_unit, parse_amount

if TYPE_CHECKING:
    import great_expectations as gx

    from pipeline.validate import Validator

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


@dataclass(frozen=True)
class Rule:
    name: str
    citation: str
    statement: str
    level: str  # "product" (one row per product) or "row" (one row per panel line)
    severity: str  # the finding's severity: "error" or "warning"
    verified: str  # what the wording was checked against
    not_checkable: str = ""  # the sources (and why) the rule cannot be checked from

    @property
    def column(self) -> str:
        return f"ok_{self.name}"


_GPO_2008 = (
    "verified: 21 CFR 101.36 text (GPO, revised April 2008; paragraph unchanged by the 2016 "
    "rule as far as found)"
)
_NOT_FOUND = "not verified: the current eCFR text was not found by the search"

#: The rule pack: one row per rule, in report order.
RULES: tuple[Rule, ...] = (
    Rule(
        "heading",
        "21 CFR 101.36(b)(1)(i), (e)",
        'The panel is headed "Supplement Facts".',
        "product",
        "error",
        _GPO_2008,
        "CSV and DSLD JSON (no heading in the data); PDF and OCR panels are only found under "
        "this heading, others are rejected files (a 'Nutrition Facts' heading is named in the "
        "rejection)",
    ),
    Rule(
        "serving_size",
        "21 CFR 101.36(b)(1)(i)",
        'A "Serving Size" is stated under the heading.',
        "product",
        "error",
        _GPO_2008,
    ),
    Rule(
        "servings_per_container",
        "21 CFR 101.36(b)(1)(ii)",
        '"Servings Per Container" is stated, unless the net quantity of contents states it.',
        "product",
        "warning",
        _GPO_2008,
        "the DSLD CSV export (it has no servings per container); no reader keeps the net "
        "quantity, so a finding says to check it",
    ),
    Rule(
        "units",
        "21 CFR 101.9(c)(8)(iv); 101.36(b)(2)(ii)(B)",
        "Vitamin A in mcg RAE, vitamin D and K in mcg, vitamin E in mg, folate in mcg DFE; "
        "IU only in parentheses after the metric amount.",
        "row",
        "error",
        "units: verified against the 2016 Daily Value table (81 FR 33742 as summarized); "
        "IU in parentheses: " + _NOT_FOUND,
    ),
    Rule(
        "dv_declared",
        "21 CFR 101.36(b)(2)(iii)",
        "A %DV is given for each dietary ingredient that has a Daily Value (protein may omit it).",
        "row",
        "error",
        "FDA Dietary Supplement Labeling Guide; " + _NOT_FOUND,
        "CSV files (the %DV column is optional), OCR (misread %DV cells); blend members",
    ),
    Rule(
        "dv_2016",
        "21 CFR 101.36(b)(2)(iii)(B); 101.9(c)(8)(iv), (c)(9)",
        "A declared %DV agrees with the 2016 Daily Value within label rounding (1 point or 10%).",
        "row",
        "error",
        "Daily Values: verified against the 2016 table (81 FR 33742 as summarized); "
        "rounding: this project's tolerance, " + _NOT_FOUND,
        "amounts in IU of vitamin A or E (no agreed conversion to mcg RAE / mg)",
    ),
    Rule(
        "no_dv_symbol",
        "21 CFR 101.36(b)(2)(iii)(F), (b)(3)(iv)",
        "An ingredient without a Daily Value carries a symbol in the %DV column, and no %DV.",
        "row",
        "error",
        "FDA Dietary Supplement Labeling Guide (cites these paragraphs); " + _NOT_FOUND,
        "CSV, DSLD JSON and OCR for a missing symbol (CSV and DSLD do not keep symbols, OCR "
        "misreads them); DSLD's 0% is its way of writing none",
    ),
    Rule(
        "dv_not_established_footnote",
        "21 CFR 101.36(b)(2)(iii)(F), (b)(3)(iv)",
        'The symbol refers to the footnote "Daily Value not established".',
        "product",
        "error",
        "FDA Dietary Supplement Labeling Guide (cites these paragraphs); " + _NOT_FOUND,
        "CSV and DSLD JSON (no footnotes in the data); OCR for a missing footnote",
    ),
    Rule(
        "order",
        "21 CFR 101.36(b)(2)(i)(B)",
        "Dietary ingredients with a Daily Value are listed in the regulation's order.",
        "row",
        "error",
        "verified: 101.36(b)(2)(i)(B) as quoted by FDA's labeling guide (2005), with choline "
        "after pantothenic acid from FDA's 2016 rule Q&A",
        "blend members",
    ),
    Rule(
        "zero",
        "21 CFR 101.36(b)(2)(i)",
        "No dietary ingredient with a Daily Value is declared at zero.",
        "row",
        "error",
        _NOT_FOUND,
    ),
    Rule(
        "blend",
        "21 CFR 101.36(c)(1)-(3)",
        "A proprietary blend is named and gives its total weight on its line.",
        "row",
        "error",
        "verified against quotations of 101.36(c) (industry guidance pages); " + _NOT_FOUND,
    ),
    Rule(
        "calorie_footnote",
        "21 CFR 101.36(b)(2)(iii)(D)",
        "A %DV for total fat, saturated fat, total carbohydrate, dietary fiber or protein "
        'needs the footnote "Percent Daily Values are based on a 2,000 calorie diet".',
        "product",
        "error",
        _NOT_FOUND,
        "CSV and DSLD JSON (no footnotes in the data); OCR for a missing footnote",
    ),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


# ---- the regulated dietary ingredients --------------------------------------------------


@dataclass(frozen=True)
class Regulated:
    """A (b)(2)-dietary ingredient: how its name reads, its place, unit and Daily Values.

    `dv`/`dv_older` are (amount, unit); None when the nutrient's DV lives in
    pipeline.nutrients (`protocol_key`) or it has none. `order` is its place among the
    vitamins and minerals (None for the others).
    """

    key: str
    display: str
    pattern: str
    order: int | None = None
    dv: tuple[float, str] | None = None
    dv_older: tuple[float, str] | None = None
    units: tuple[str, ...] = ()  # the units the 2016 rule allows (canonical spellings)
    protocol_key: str | None = None  # the pipeline.nutrients key whose DV it uses


def _vm(
    order: int,
    key: str,
    display: str,
    pattern: str,
    dv: tuple[float, str] | None,
    dv_older: tuple[float, str] | None,
    units: tuple[str, ...] = (),
    protocol_key: str | None = None,
) -> Regulated:
    return Regulated(key, display, pattern, order, dv, dv_older, units, protocol_key)


#: Vitamins and minerals in the order of 21 CFR 101.36(b)(2)(i)(B), with their Daily Values
#: (2016 rule; older RDI) and required units; then the (b)(2) ingredients that are not
#: vitamins or minerals (macronutrients; calories and sugars have no DV).
REGULATED: tuple[Regulated, ...] = (
    _vm(1, "vitamin_a", "Vitamin A", r"vitamin a|retinol|retinyl \w+|beta[- ]?carotene",
        (900, "mcg RAE"), (5000, "IU"), ("mcg RAE",)),
    _vm(2, "vitamin_c", "Vitamin C", r"vitamin c|ascorbic acid", (90, "mg"), (60, "mg")),
    _vm(3, "vitamin_d", "Vitamin D", r"vitamin d( ?-? ?[23])?|d ?-? ?[23]|cholecalciferol|"
        r"ergocalciferol", None, None, ("mcg",), nt.VITAMIN_D),
    _vm(4, "vitamin_e", "Vitamin E", r"vitamin e|(d|dl)-alpha[- ]tocopher\w*", (15, "mg"),
        (30, "IU"), ("mg", "mg AT")),
    _vm(5, "vitamin_k", "Vitamin K", r"(vitamin )?k ?-? ?[12]( ?-? ?7)?|vitamin k|"
        r"phylloquinone|phytonadione|menaquinone( ?-? ?[47])?|mk ?-? ?[47]|menatetrenone",
        None, None, ("mcg",), nt.VITAMIN_K2),
    _vm(6, "thiamin", "Thiamin", r"thiamine?|vitamin b ?-? ?1", (1.2, "mg"), (1.5, "mg")),
    _vm(7, "riboflavin", "Riboflavin", r"riboflavin|vitamin b ?-? ?2", (1.3, "mg"),
        (1.7, "mg")),
    _vm(8, "niacin", "Niacin", r"niacin(amide)?|vitamin b ?-? ?3", (16, "mg"), (20, "mg")),
    _vm(9, "vitamin_b6", "Vitamin B6", r"vitamin b ?-? ?6|pyridoxine( hcl| hydrochloride)?",
        (1.7, "mg"), (2.0, "mg")),
    _vm(10, "folate", "Folate",
        r"folate|folic acid|folacin|vitamin b ?-? ?9|[\w-]*methyl ?folate", (400, "mcg DFE"),
        (400, "mcg"), ("mcg DFE",)),
    _vm(11, "vitamin_b12", "Vitamin B12", r"vitamin b ?-? ?12|(cyano|methyl)?cobalamin",
        (2.4, "mcg"), (6.0, "mcg")),
    _vm(12, "biotin", "Biotin", r"biotin", (30, "mcg"), (300, "mcg")),
    _vm(13, "pantothenic_acid", "Pantothenic acid",
        r"pantothenic acid|vitamin b ?-? ?5|(d-)?calcium pantothenate", (5, "mg"), (10, "mg")),
    _vm(14, "choline", "Choline", r"choline", (550, "mg"), None),
    _vm(15, "calcium", "Calcium", r"(elemental )?calcium", None, None, (), nt.CALCIUM),
    _vm(16, "iron", "Iron", r"iron", (18, "mg"), (18, "mg")),
    _vm(17, "phosphorus", "Phosphorus", r"phosphorous?|phosphorus", (1250, "mg"), (1000, "mg")),
    _vm(18, "iodine", "Iodine", r"iodine", (150, "mcg"), (150, "mcg")),
    _vm(19, "magnesium", "Magnesium", r"(elemental )?magnesium", None, None, (), nt.MAGNESIUM),
    _vm(20, "zinc", "Zinc", r"zinc", (11, "mg"), (15, "mg")),
    _vm(21, "selenium", "Selenium", r"selenium", (55, "mcg"), (70, "mcg")),
    _vm(22, "copper", "Copper", r"copper", (0.9, "mg"), (2.0, "mg")),
    _vm(23, "manganese", "Manganese", r"manganese", (2.3, "mg"), (2.0, "mg")),
    _vm(24, "chromium", "Chromium", r"chromium", (35, "mcg"), (120, "mcg")),
    _vm(25, "molybdenum", "Molybdenum", r"molybdenum", (45, "mcg"), (75, "mcg")),
    _vm(26, "chloride", "Chloride", r"chloride", (2300, "mg"), (3400, "mg")),
    _vm(27, "sodium", "Sodium", r"sodium", (2300, "mg"), (2400, "mg")),
    _vm(28, "potassium", "Potassium", r"potassium", (4700, "mg"), (3500, "mg")),
    Regulated("total_fat", "Total fat", r"(total )?fat", dv=(78, "g"), dv_older=(65, "g")),
    Regulated("saturated_fat", "Saturated fat", r"saturated fat", dv=(20, "g"),
              dv_older=(20, "g")),
    Regulated("cholesterol", "Cholesterol", r"cholesterol", dv=(300, "mg"),
              dv_older=(300, "mg")),
    Regulated("total_carbohydrate", "Total carbohydrate", r"(total )?carbohydrates?",
              dv=(275, "g"), dv_older=(300, "g")),
    Regulated("dietary_fiber", "Dietary fiber", r"(dietary )?fib(er|re)", dv=(28, "g"),
              dv_older=(25, "g")),
    Regulated("protein", "Protein", r"protein", dv=(50, "g"), dv_older=(50, "g")),
    Regulated("added_sugars", "Added sugars", r"(includes \d+ ?g )?added sugars?",
              dv=(50, "g")),
    # (b)(2) ingredients without a Daily Value: no %DV, and no "not established" symbol
    Regulated("calories", "Calories", r"calories( from fat)?|total calories"),
    Regulated("no_dv_b2", "(b)(2) ingredient without a DV",
              r"(total )?sugars?|trans fat|(poly|mono)unsaturated fat|sugar alcohols?|"
              r"(soluble|insoluble) fib(er|re)|other carbohydrate"),
)  # fmt: skip

_BY_KEY: dict[str, Regulated] = {r.key: r for r in REGULATED}
_PATTERNS: tuple[tuple[re.Pattern[str], Regulated], ...] = tuple(
    (re.compile(rf"^(?:{r.pattern})$"), r) for r in REGULATED
)
#: The nutrients whose %DV, when given, needs the 2,000 calorie footnote.
CALORIE_FOOTNOTE_KEYS = frozenset(
    {"total_fat", "saturated_fat", "total_carbohydrate", "dietary_fiber", "protein"}
)
ORDER_TEXT = ", ".join(r.display.lower() for r in REGULATED if r.order is not None)

_PAREN = re.compile(r"\([^()]*\)")
_AS = re.compile(r"\b(as|from)\b.*$")
_SPACES = re.compile(r"\s+")
_MARKER = re.compile(r"^[*†‡§¶]+$")
_BLEND_WORD = re.compile(r"\b(proprietary|blend)\b", re.IGNORECASE)
_CALORIE_NOTE = re.compile(r"2[,.]?[0o]{3}\s*calorie|calorie\s+diet", re.IGNORECASE)
_NOT_ESTABLISHED = re.compile(r"not\s+established", re.IGNORECASE)


def base_name(name_raw: str) -> str:
    """The printed name without marks, parentheticals or its "as ..." source, lower case."""
    base = nt.clean_name(name_raw or "")
    while _PAREN.search(base):
        base = _PAREN.sub(" ", base)
    base = _AS.sub("", base)
    return _SPACES.sub(" ", base).strip(" ,;:-")


@lru_cache(maxsize=4096)  # labels repeat names; bounded, so memory stays flat
def regulated(name_raw: str) -> Regulated | None:
    """The (b)(2)-dietary ingredient a printed name declares, or None (a (b)(3) ingredient)."""
    base = base_name(name_raw)
    return next((r for pattern, r in _PATTERNS if pattern.match(base)), None)


_VITAMIN_OR_MINERAL = re.compile(
    r"^(?:" + "|".join(r.pattern for r in REGULATED if r.order is not None) + r") \w"
)


@lru_cache(maxsize=4096)
def names_a_nutrient_form(name_raw: str) -> bool:
    """Does an unrecognized name start with a vitamin or mineral ("Calcium Citrate", "Zinc
    Gluconate")? Such a line may declare the nutrient: the no-DV rules leave it alone."""
    return bool(_VITAMIN_OR_MINERAL.match(base_name(name_raw)))


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


def _fmt(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".")


def _dv_text(amount: tuple[float, str] | None) -> str:
    return "none" if amount is None else f"{_fmt(amount[0])} {amount[1]}"


def daily_values(reg: Regulated) -> tuple[tuple[float, str] | None, tuple[float, str] | None]:
    """(2016 DV, older DV) of a regulated nutrient, each (amount, unit)."""
    if reg.protocol_key is not None:
        info = nt.NUTRIENTS[reg.protocol_key]
        current = None if info.dv_current is None else (info.dv_current, info.unit)
        older = None if info.dv_older is None else (info.dv_older, info.unit)
        return current, older
    return reg.dv, reg.dv_older


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


def _records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts, None where a value is missing."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict("records")]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


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
    records = _records_of(table[[c for c in _ROW_INPUTS if c in table.columns]])
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
    found: dict[str, tuple[bool | None, str | None]] = {}

    # units
    ok: bool | None = None
    why = None
    if reg is not None and reg.units and given:
        ok = unit is not None and unit.canonical in reg.units
        if not ok:
            wanted = " or ".join(reg.units)
            why = f"{line}: {_printed(row)}: expected {reg.display} in {wanted}"
            if unit is not None and unit.kind is UnitKind.IU:
                why += " (IU only in parentheses after it; IU alone is the pre-2016 unit)"
    found["units"] = (ok, why)

    # dv_declared
    ok, why = None, None
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
        ok = declared is not None
        if not ok:
            printed = f"'{dv_raw}'" if dv_raw and source not in DSLD_SOURCES else "no %DV"
            why = (
                f"{line}: {_printed(row)} has a Daily Value ({_dv_text(current)}) but its "
                f"%DV column gives {printed}: expected a %DV"
            )
    found["dv_declared"] = (ok, why)

    # dv_2016
    ok, why = None, None
    if reg is not None and current is not None and declared is not None and given:
        ok, expected = _dv_check(row, reg, declared)
        why = f"{line}: {expected}" if expected else None
    found["dv_2016"] = (ok, why)

    # no_dv_symbol
    ok, why = None, None
    if reg is None and not member and not names_a_nutrient_form(row["name_raw"]):
        if declared is not None:
            ok = False
            why = (
                f"{line} has no Daily Value but gives {dv_raw}: expected a symbol (*) that "
                "refers to 'Daily Value not established', and no %DV"
            )
        elif marker:
            ok = True
        elif source in EXACT_SOURCES:
            ok = False
            why = (
                f"{line} has no Daily Value and no symbol in the %DV column: expected a "
                "symbol (*) that refers to 'Daily Value not established'"
            )
    found["no_dv_symbol"] = (ok, why)

    # order
    ok, why = None, None
    if reg is not None and reg.order is not None and not member:
        ok = before is None or reg.order >= before[0]
        if not ok and before is not None:
            earlier = before[1]
            why = (
                f"{line} is listed after {_line(earlier)}: expected {reg.display.lower()} "
                f"before {before[2].lower()} (the order of 101.36(b)(2)(i)(B))"
            )
    found["order"] = (ok, why)

    # zero
    ok, why = None, None
    if reg is not None and current is not None and given and amount is not None:
        ok = amount.value != 0
        if not ok:
            why = f"{line} is declared at zero ({_printed(row)}): expected it left off the panel"
    found["zero"] = (ok, why)

    # blend
    ok, why = None, None
    name = _text(row.get("name_raw"))
    is_total = reg is None and (name in blend_names or bool(_BLEND_WORD.search(name)))
    is_total = is_total and not names_a_nutrient_form(name)
    if is_total and not member:
        weight = given and unit is not None and unit.kind is UnitKind.MASS
        ok = weight and bool(base_name(name))
        if not ok:
            what = "no name" if not base_name(name) else f"gives {_printed(row)}"
            why = f"{line}: the blend {what}: expected its name and total weight (e.g. 500 mg)"
    found["blend"] = (ok, why)
    return found


def products_table(products: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The products with one `ok_<rule>` column per product rule and `why_<rule>`.

    `rows`: `rows_table` of their nutrient rows (for the footnote rules)."""
    needs_calorie: dict[str, str] = {}
    needs_not_established: dict[str, str] = {}
    for row in _records_of(rows[["product_id", "name_raw", "parent", "dv_raw", "line_no", "page"]]):
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
            needs_calorie.setdefault(pid, _line(row))
        if reg is None and not names_a_nutrient_form(row["name_raw"]):
            needs_not_established.setdefault(pid, _line(row))
    table = products.reset_index(drop=True).copy()
    columns: dict[str, list[Any]] = {
        f"{kind}_{rule.name}": []
        for rule in RULES
        if rule.level == "product"
        for kind in ("ok", "why")
    }
    for product in _records_of(table[list(_PRODUCT_INPUTS)]):
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
        calorie = needs_calorie.get(pid)
        if calorie is None or not panel:
            checks["calorie_footnote"] = (None, None)
        elif _CALORIE_NOTE.search(footnotes):
            checks["calorie_footnote"] = (True, None)
        elif not exact:
            checks["calorie_footnote"] = (None, None)
        else:
            checks["calorie_footnote"] = (
                False,
                f"{calorie} gives a %DV, but the panel has no footnote 'Percent Daily Values "
                "are based on a 2,000 calorie diet'",
            )
        no_dv = needs_not_established.get(pid)
        if no_dv is None or not panel:
            checks["dv_not_established_footnote"] = (None, None)
        elif _NOT_ESTABLISHED.search(footnotes):
            checks["dv_not_established_footnote"] = (True, None)
        elif not exact:
            checks["dv_not_established_footnote"] = (None, None)
        else:
            checks["dv_not_established_footnote"] = (
                False,
                f"{no_dv} has no Daily Value, but the panel has no footnote 'Daily Value not "
                "established' for its symbol to refer to",
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
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=f"compliance_{level}s")
    for rule in RULES:
        if rule.level != level:
            continue
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column=rule.column,
                value_set=[True],
                meta={"rule": rule.name, "citation": rule.citation, "reason": rule.statement},
                notes=f"{rule.citation}: {rule.statement}",
            )
        )
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
            for item in res.result.get("unexpected_index_list") or []:
                at = position[item[index]]
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
        results[level] = result.to_json_dict()
    return findings, results


def findings_frame(findings: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Compliance findings in a stable order (by file, product, rule order, line)."""
    frame = pd.DataFrame(list(findings), columns=[*COMPLIANCE_COLUMNS, "line_no"])
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
    from pipeline.validate import Validator

    found, _ = compliance_findings(nutrients, products, validator or Validator())
    return findings_frame(found)


def rule_table() -> list[dict[str, str]]:
    """The rules as the report and audit.json's methodology list them."""
    return [
        {
            "rule": r.name,
            "citation": r.citation,
            "statement": r.statement,
            "severity": r.severity,
            "not_checkable": r.not_checkable,
            "verified": r.verified,
        }
        for r in RULES
    ]
