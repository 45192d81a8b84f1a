"""Data-quality findings: the data-quality suites (pipeline.expectations) over a chunk's
nutrient rows and products, one finding a reader can act on per unexpected row (which
file, which line, what was wrong), plus every read issue from extraction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from pipeline import nutrients as nt
from pipeline.infra.gx import Validator, result_json, unexpected
from pipeline.rules.quality import QUALITY_BY_NAME
from pipeline.values import fmt_number as _fmt

FINDING_COLUMNS = ["source_file", "product_id", "check", "severity", "detail", "blocking"]


def _row_detail(check: str, row: Mapping[str, Any]) -> str:
    name = row["name_raw"]
    where = f"line {row['line_no']}" + (
        f", page {int(row['page'])}" if pd.notna(row["page"]) else ""
    )
    printed = (
        " ".join(str(row[c]) for c in ("amount_raw", "unit_raw") if pd.notna(row[c]) and row[c])
        or "nothing"
    )
    if check == "amount_present":
        return f"{where}: '{name}' has no readable amount (printed: {printed})"
    if check == "amount_non_negative":
        return f"{where}: '{name}' has a negative amount ({printed})"
    if check == "unit_known":
        return f"{where}: '{name}' {printed}: {row['unit_note']}"
    if check in ("amount_confidence", "amount_repaired"):
        conf = f"{row['confidence']:.0f}%"
        fixed = f" after a repair ({row['repairs']})" if pd.notna(row["repairs"]) else ""
        if check == "amount_confidence":
            return (
                f"{where}: '{name}' {printed}: amount read with low confidence ({conf}{fixed}): "
                "check the label"
            )
        return f"{where}: '{name}' {printed}: amount read by OCR{fixed}, confidence {conf}"
    display = nt.NUTRIENTS[row["nutrient"]].display if row["nutrient"] in nt.NUTRIENTS else name
    info = nt.NUTRIENTS.get(row["nutrient"])
    unit = info.unit if info else ""
    return (
        f"{display}: declared {row['dv_raw']} DV for {_fmt(row['amount_normalized'])} {unit}, "
        f"expected {_fmt(round(row['dv_expected_current_pct']))}% (current DV "
        f"{_fmt(info.dv_current if info else None)} {unit}) or "
        f"{_fmt(round(row['dv_expected_older_pct']))}% (older DV "
        f"{_fmt(info.dv_older if info else None)} {unit})"
    )


def _product_detail(check: str, meta: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    if check == "one_calcium_amount":
        total = _fmt(row["calcium_mg"])
        return f"calcium is declared on {row['calcium_rows']} lines; their sum ({total} mg) is used"
    if check == "serving_size_present":
        return "the panel states no serving size"
    if check == "vitamin_k_form":
        return (
            f"{_fmt(row['vitamin_k_unresolved_mcg'])} mcg vitamin K whose form does not tell K1 "
            "from K2: the protocol checks cannot use it"
        )
    nutrient = meta["nutrient"]
    info = nt.NUTRIENTS[nutrient]
    limit = next(u for u in nt.UPPER_LIMITS if u.nutrient == nutrient)
    per_day = row[f"{nutrient}_{info.unit}_per_day"]
    return (
        f"{info.display}: {_fmt(per_day)} {info.unit} per day "
        f"({_fmt(row['servings_per_day'])} serving(s) a day, {row['servings_per_day_source']}) "
        f"is above the adult upper limit of {limit.text}"
    )


def quality_rows_table(nutrients: pd.DataFrame) -> pd.DataFrame:
    table = nutrients.copy()
    table["is_member"] = table["parent"].notna()
    table["has_unit"] = table["unit_raw"].notna() & (
        table["unit_raw"].astype(str).str.strip() != ""
    )
    table["dv_consistent"] = table["dv_consistent"].astype(object)
    # OCR'd protocol amounts: their confidence, and whether a repair was needed
    ocr_amount = table["nutrient"].isin(list(nt.PROTOCOL_NUTRIENTS)) & table["amount"].notna()
    if "review" in table:  # a person corrected or confirmed it (pipeline.corrections)
        ocr_amount &= table["review"].isna()
    if "confidence" in table:
        ocr_amount &= table["confidence"].notna()
        table["protocol_amount_confidence"] = table["confidence"].where(ocr_amount)
    else:
        ocr_amount &= False
        table["protocol_amount_confidence"] = float("nan")
    repaired = table["repairs"].notna() if "repairs" in table else False
    table["protocol_amount_repaired"] = (ocr_amount & repaired).where(ocr_amount).astype(object)
    return table


def _blocking(check: str, nutrient: Any) -> bool:
    """A finding that makes the protocol verdict unreliable (the product is not assessable)."""
    return QUALITY_BY_NAME[check].blocking(nutrient)


def read_findings(products: pd.DataFrame, read_issues: pd.DataFrame) -> list[dict[str, Any]]:
    """One finding per read issue from extraction (no Great Expectations needed)."""
    if read_issues.empty:
        return []
    id_of = dict(
        zip(
            zip(products["source_file"].tolist(), products["label_index"].tolist(), strict=True),
            products["product_id"].tolist(),
            strict=True,
        )
    )
    return [
        {
            "source_file": issue["source_file"],
            "product_id": id_of.get((issue["source_file"], issue["label_index"])),
            "check": "read",
            "severity": "error",
            "detail": issue["detail"],
            "blocking": bool(issue.get("blocks_verdict", False)),
            "line_no": None,
        }
        for issue in read_issues.to_dict("records")
    ]


#: The columns a row finding (`_row_detail`) or a product finding (`_product_detail`, with
#: every "..._per_day" column) reads: a finding's row is looked up in a frame of these only
#: (`DataFrame.loc` of one row costs with every column: 0.56 ms a row over the nutrient
#: rows' 45 columns, 0.25 ms over these; a catalog of 10,000 has thousands of findings).
ROW_DETAIL_COLUMNS = (
    "source_file",
    "product_id",
    "name_raw",
    "line_no",
    "page",
    "amount_raw",
    "unit_raw",
    "unit_note",
    "confidence",
    "repairs",
    "nutrient",
    "dv_raw",
    "amount_normalized",
    "dv_expected_current_pct",
    "dv_expected_older_pct",
)
PRODUCT_DETAIL_COLUMNS = (
    "source_file",
    "product_id",
    "calcium_mg",
    "calcium_rows",
    "vitamin_k_unresolved_mcg",
    "servings_per_day",
    "servings_per_day_source",
)


def _narrowed(
    frame: pd.DataFrame, columns: Iterable[str], suffix: str | None = None
) -> pd.DataFrame:
    """`frame`'s `columns` (those it has) and, with `suffix`, every column ending with it."""
    wanted = set(columns)
    return frame[
        [c for c in frame.columns if c in wanted or (suffix is not None and c.endswith(suffix))]
    ]


class _RowsByPosition:
    """A frame's rows as dicts, by position, from its column lists (`DataFrame.loc` of one
    row builds a Series of every column: ~0.25 ms a finding, most of the findings' cost)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.names = [str(c) for c in frame.columns]
        self.columns = [frame[c].tolist() for c in frame.columns]

    def at(self, position: int) -> dict[str, Any]:
        return {
            name: values[position] for name, values in zip(self.names, self.columns, strict=True)
        }


def _read_by(frame: pd.DataFrame, level: str, index: str) -> pd.DataFrame:
    """The columns of `frame` the data-quality suite of `level` reads, and `index` (in the
    frame's order): GX copies and fingerprints every column of the frame it validates."""
    # Imports GX (pipeline.infra.gx): only when a suite runs, as gx_findings does.
    from pipeline.expectations import quality_columns

    wanted = {index, *quality_columns(level)}
    return frame[[c for c in frame.columns if c in wanted]]


def gx_findings(
    nutrients: pd.DataFrame, products: pd.DataFrame, validator: Validator
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The data-quality suites over the nutrient rows and the products: one finding per
    unexpected row (with the label line it is about, for row findings), and the results."""
    # Imports GX (~2 s, pipeline.infra.gx): only when a suite runs, not with this module.
    from pipeline import expectations as ex

    findings: list[dict[str, Any]] = []
    rows = quality_rows_table(nutrients).reset_index(drop=True)
    rows["row_id"] = rows.index
    rows_result = validator.run(
        ex.rows_quality_suite(), _read_by(rows, "rows", "row_id"), ["row_id"]
    )
    detail_rows = _RowsByPosition(_narrowed(rows, ROW_DETAIL_COLUMNS))
    for res in rows_result.results:
        check = res.expectation_config.meta["check"]
        for row_id in unexpected(res):
            row = detail_rows.at(row_id)  # row_id: the row's position
            findings.append(
                {
                    "source_file": row["source_file"],
                    "product_id": row["product_id"],
                    "check": check,
                    "severity": "error" if _blocking(check, row["nutrient"]) else "warning",
                    "detail": _row_detail(check, row),
                    "blocking": _blocking(check, row["nutrient"]),
                    "line_no": int(row["line_no"]),
                }
            )
    by_id = _RowsByPosition(_narrowed(products, PRODUCT_DETAIL_COLUMNS, "_per_day"))
    position = {pid: n for n, pid in enumerate(products["product_id"].tolist())}
    products_result = validator.run(
        ex.products_quality_suite(), _read_by(products, "products", "product_id"), ["product_id"]
    )
    for res in products_result.results:
        meta = res.expectation_config.meta
        for pid in unexpected(res):
            row = by_id.at(position[pid])
            findings.append(
                {
                    "source_file": row["source_file"],
                    "product_id": pid,
                    "check": meta["check"],
                    "severity": meta.get(
                        "severity", "error" if _blocking(meta["check"], None) else "warning"
                    ),
                    "detail": _product_detail(meta["check"], meta, row),
                    "blocking": _blocking(meta["check"], None),
                    "line_no": None,
                }
            )
    return findings, {
        "rows": result_json(rows_result),
        "products": result_json(products_result),
    }


def findings_frame(findings: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Findings in their stable order, with FINDING_COLUMNS and `line_no` (the label line
    a row finding is about; missing for the others)."""
    return sorted_findings(pd.DataFrame(list(findings), columns=[*FINDING_COLUMNS, "line_no"]))


def sorted_findings(frame: pd.DataFrame) -> pd.DataFrame:
    """`findings_frame` of a frame of the findings (FINDING_COLUMNS and line_no) in the
    order they were found (pipeline.finding_columns.FindingColumns.frame)."""
    frame["line_no"] = frame["line_no"].astype("Int64")
    order = {"safety": 0, "error": 1, "warning": 2}
    return frame.sort_values(
        ["source_file", "product_id", "severity", "check", "detail"],
        key=lambda s: s.map(order) if s.name == "severity" else s.astype(str),
    ).reset_index(drop=True)
