"""Normalize stage: label rows -> nutrients (canonical names and units) -> products.

`rows_to_nutrients` resolves each printed line to a canonical nutrient and converts its
amount, keeping the printed value and unit beside the normalized one. `nutrients_to_products`
makes one row per product with the protocol metrics and the label-text evidence (warfarin
caution, take-with-fat guidance, servings per day). Both are pure functions of DataFrames.

Both work on any group of whole label files: a product's rows and its id depend only on its
own file. So the normalize stage runs them on one batch of files at a time
(`label_batches`: the extract stage's row groups), and `normalize_batch` gives Arrow tables
with the fixed `NUTRIENTS_SCHEMA` / `PRODUCTS_SCHEMA`, whatever one batch's values make
pandas infer; written one after the other, they are the whole table's normalization.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline import nutrients as nt
from pipeline.label_text import anticoagulant_caution, fat_guidance, servings_per_day
from pipeline.records import (
    Label,
    LabelRow,
    Rejection,
    frame_schema,
    frame_to_table,
    record_dtypes,
)
from pipeline.rules.protocol import DERIVED
from pipeline.units import IU_TO_MCG, UnitKind, lookup_unit, parse_amount

# ---- one line ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalized:
    """What `normalize_line` finds in one printed line."""

    nutrient: str | None
    k2_form: str | None
    amount: float | None  # the printed number
    amount_operator: str | None
    unit: str | None  # the printed unit in its canonical spelling
    amount_mcg: float | None  # the amount as a mass in micrograms (activity basis for IU)
    unit_status: str  # ok | not_provided | no_amount | unparsed_amount | unknown_unit |
    #                   unit_not_for_nutrient | not_converted | not_mass
    note: str | None


@cache
def normalize_line(
    name_raw: str, form_raw: str | None, amount_raw: str | None, unit_raw: str | None
) -> Normalized:
    """Resolve and convert one panel line (cached: labels repeat the same lines)."""
    resolved = nt.resolve(name_raw, form_raw)
    nutrient, note = resolved.nutrient, resolved.note
    unit = lookup_unit(unit_raw)
    parsed = parse_amount(amount_raw)
    amount = parsed.value if parsed else None
    operator = parsed.operator if parsed else None
    canonical_unit = unit.canonical if unit else (unit_raw.strip() if unit_raw else None)

    def result(status: str, mcg: float | None = None, why: str | None = None) -> Normalized:
        return Normalized(
            nutrient, resolved.k2_form, amount, operator, canonical_unit, mcg, status, why or note
        )

    if unit is not None and unit.kind is UnitKind.NOT_PROVIDED:
        return result("not_provided", why="the label gives no amount (NP)")
    if amount_raw is None or not amount_raw.strip():
        return result("no_amount", why="no amount printed")
    if parsed is None or amount is None:
        return result("unparsed_amount", why=f"amount {amount_raw!r} is not a number")
    if unit is None:
        return result("unknown_unit", why=f"unknown unit {unit_raw!r}: kept as printed")
    if unit.kind in (UnitKind.ENERGY, UnitKind.OTHER):
        return result("not_mass")
    info = nt.NUTRIENTS.get(nutrient) if nutrient else None
    if info is not None and unit.kind.value not in info.allowed_units:
        return result(
            "unit_not_for_nutrient", why=f"{info.display} is not measured in {unit.canonical}"
        )
    if unit.kind is UnitKind.IU:
        basis = nt.iu_basis(nutrient, name_raw, form_raw)
        if basis is None:
            why = (
                "beta-carotene IU: the conversion is disputed (0.15 or 0.3 mcg RAE per IU)"
                if "carotene" in nt.clean_name(f"{name_raw} {form_raw or ''}")
                else "IU with no known conversion for this nutrient or form"
            )
            return result("not_converted", why=why)
        return result("ok", amount * IU_TO_MCG[basis])
    assert unit.mcg_factor is not None
    return result("ok", amount * unit.mcg_factor)


# ---- all lines ----------------------------------------------------------------------------

_ROW_KEYS = ["name_raw", "form_raw", "amount_raw", "unit_raw"]


def product_ids(labels: pd.DataFrame) -> pd.Series:
    """Stable ids: a slug of the product name + a hash of (source file, product name).

    Unique within a run: a repeat of the same name in the same file gets its index appended.
    """
    ids = []
    for source_file, name in zip(labels["source_file"], labels["product_name"], strict=True):
        slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:40] or "product"
        digest = hashlib.sha1(f"{source_file}\n{name}".encode()).hexdigest()[:8]
        ids.append(f"{slug}-{digest}")
    series = pd.Series(ids, index=labels.index, dtype=object)
    repeat = series.groupby(series).cumcount()
    return series.where(repeat == 0, series + "-" + (repeat + 1).astype(str))


def _expected_dv(nutrient: str | None, amount: float | None, which: str) -> float | None:
    info = nt.NUTRIENTS.get(nutrient) if nutrient else None
    dv = getattr(info, which) if info else None
    if dv is None or amount is None or pd.isna(amount):
        return None
    return amount / dv * 100.0


_DV = re.compile(r"^\s*<?\s*(\d+(?:[.,]\d+)*)\s*%?\s*$")


def parse_dv(dv_raw: object) -> float | None:
    """The declared %DV as a number ("38%" -> 38); None for "*", "**", "†" or blank."""
    return _parse_dv_text(dv_raw) if isinstance(dv_raw, str) else None


@lru_cache(maxsize=4096)  # labels print few distinct %DVs; bounded, so memory stays flat
def _parse_dv_text(dv_raw: str) -> float | None:
    match = _DV.match(dv_raw.replace("%", " % "))
    if not match:
        return None
    number = parse_amount(match.group(1))  # the one number grammar: "4,167" is 4167, "2,5" 2.5
    return number.value if number else None


def dv_consistent(
    declared: float | None, current: float | None, older: float | None
) -> bool | None:
    """Does a declared %DV match the amount under the current or older Daily Value?

    Label rounding: %DV is printed as a whole number, and amounts themselves are rounded,
    so a match is within 1 percentage point or 10% of the expected value, whichever is wider.
    """
    if any(v is None or pd.isna(v) for v in (declared, current, older)):
        return None
    assert declared is not None and current is not None and older is not None
    return bool(within_label_rounding(np.float64(declared), np.array([current, older])).any())


def within_label_rounding(declared: Any, expected: Any) -> Any:
    """Whether each declared %DV is within label rounding of the expected one (1
    percentage point or 10% of it, whichever is wider; False where either is NaN): the one
    rule `dv_consistent`, its column form and the compliance rule dv_2016 share."""
    with np.errstate(invalid="ignore"):
        return np.abs(declared - expected) <= np.maximum(1.0, 0.1 * expected)


def _with_none(values: pd.Series) -> np.ndarray:
    """A column's values as Python objects, None where missing (None, NaN or NA)."""
    out = values.to_numpy(dtype=object, copy=True)  # a view may be read-only
    out[values.isna().to_numpy()] = None
    return out


def _floats(values: pd.Series) -> np.ndarray:
    """A column as float64 values, NaN where missing (None, NaN or NA)."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _dv_consistent_array(
    declared: pd.Series, current: pd.Series, older: pd.Series
) -> pd.arrays.BooleanArray:
    """`dv_consistent` of every row at once (NA where a value is missing)."""
    d, c, o = _floats(declared), _floats(current), _floats(older)
    known = ~(np.isnan(d) | np.isnan(c) | np.isnan(o))
    consistent = within_label_rounding(d, c) | within_label_rounding(d, o)
    return pd.arrays.BooleanArray(consistent & known, ~known)


def rows_to_nutrients(
    rows: pd.DataFrame, labels: pd.DataFrame, ids: pd.Series | None = None
) -> pd.DataFrame:
    """One row per panel line: the printed values beside canonical nutrient and amount.

    `ids`: `product_ids(labels)`, when the caller has computed them already.
    """
    keyed = labels[["source_file", "label_index"]].assign(
        product_id=product_ids(labels) if ids is None else ids
    )
    out = rows.merge(keyed, on=["source_file", "label_index"], how="left")
    keys = zip(*(_with_none(out[c]) for c in _ROW_KEYS), strict=True)
    found = [normalize_line(*key) for key in keys]
    norm = pd.DataFrame(
        [n.__dict__ for n in found],
        index=out.index,
        columns=[f for f in Normalized.__dataclass_fields__],
    )
    out = pd.concat([out, norm.rename(columns={"note": "unit_note"})], axis=1)
    canonical = out["nutrient"].map(lambda n: nt.NUTRIENTS[n].unit if n in nt.NUTRIENTS else None)
    divisor = canonical.map({"mg": 1000.0, "mcg": 1.0})
    out["unit_normalized"] = canonical.where(out["amount_mcg"].notna() & canonical.notna())
    out["amount_normalized"] = (out["amount_mcg"].astype(float) / divisor.astype(float)).where(
        out["unit_normalized"].notna()
    )
    out["dv_declared_pct"] = out["dv_raw"].map(parse_dv)
    out["dv_expected_current_pct"] = [
        _expected_dv(n, a, "dv_current")
        for n, a in zip(out["nutrient"], out["amount_normalized"], strict=True)
    ]
    out["dv_expected_older_pct"] = [
        _expected_dv(n, a, "dv_older")
        for n, a in zip(out["nutrient"], out["amount_normalized"], strict=True)
    ]
    out["dv_consistent"] = _dv_consistent_array(
        out["dv_declared_pct"], out["dv_expected_current_pct"], out["dv_expected_older_pct"]
    )
    for col in (
        "amount_normalized",
        "amount_mcg",
        "dv_expected_current_pct",
        "dv_expected_older_pct",
    ):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


_AMOUNT_COLUMNS = {
    nt.CALCIUM: "calcium_mg",
    nt.MAGNESIUM: "magnesium_mg",
    nt.VITAMIN_D: "vitamin_d_mcg",
    nt.VITAMIN_K1: "vitamin_k1_mcg",
    nt.VITAMIN_K2: "vitamin_k2_mcg",
    nt.VITAMIN_K: "vitamin_k_unresolved_mcg",
}

#: The per-serving protocol amounts of a product, in the order audit.json and ranking.csv
#: list them (the unit is in the name).
PROTOCOL_AMOUNT_COLUMNS: tuple[str, ...] = (
    "calcium_mg",
    "magnesium_mg",
    "vitamin_d_mcg",
    "vitamin_k1_mcg",
    "vitamin_k2_mcg",
)
#: The protocol metrics computed from them.
PROTOCOL_METRIC_COLUMNS: tuple[str, ...] = ("k2_mcg_per_500mg_ca", "ca_to_mg_ratio")


#: The per-serving amounts that also get a per-day column ("<column>_per_day").
_PER_DAY_COLUMNS: tuple[str, ...] = ("calcium_mg", "magnesium_mg", "vitamin_d_mcg")


def _rows_column(amount_column: str) -> str:
    """The column counting the rows summed into an amount: calcium_mg -> calcium_rows."""
    return amount_column.rsplit("_", 1)[0] + "_rows"


def _k2_forms(nutrients: pd.DataFrame) -> pd.Series:
    """product_id -> the K2 form of its K2 rows: the one form they name, MIXED for more
    than one; products whose K2 rows name none are left out."""
    k2 = nutrients.loc[
        (nutrients["nutrient"] == nt.VITAMIN_K2) & nutrients["k2_form"].notna(),
        ["product_id", "k2_form"],
    ]
    forms = k2.drop_duplicates().groupby("product_id")["k2_form"]
    return forms.first().where(forms.size() == 1, nt.MIXED)


def _text(value: object) -> str:
    """A text cell as a string: missing (None, NaN, NA) is ""."""
    return value if isinstance(value, str) else ""


def nutrients_to_products(
    nutrients: pd.DataFrame, labels: pd.DataFrame, ids: pd.Series | None = None
) -> pd.DataFrame:
    """One row per product: per-serving amounts, protocol metrics and label-text evidence.

    `ids`: `product_ids(labels)`, when the caller has computed them already.
    """
    products = labels.copy()
    products.insert(0, "product_id", product_ids(labels) if ids is None else ids)
    index = products.index
    sums, counts = _amount_sums(nutrients, products["product_id"])
    new: dict[str, Any] = {}  # the added columns, in order: one concat, not one insert each
    for nutrient, column in _AMOUNT_COLUMNS.items():
        new[column] = pd.Series(sums[nutrient].to_numpy(dtype=float), index=index)
        new[_rows_column(column)] = pd.Series(counts[nutrient].to_numpy(dtype="int64"), index=index)
    k2_form = products["product_id"].map(_k2_forms(nutrients)).astype(object)
    new["k2_form"] = k2_form.where(k2_form.notna(), None)

    ca = new["calcium_mg"]
    k2_amount = new["vitamin_k2_mcg"].fillna(0.0)
    k_unknown = new["vitamin_k_unresolved_mcg"].notna() & new["vitamin_k2_mcg"].isna()
    ratio = (k2_amount / ca * 500.0).where((ca > 0) & ~k_unknown)
    new["k2_mcg_per_500mg_ca"] = ratio.round(2)
    mg = new["magnesium_mg"]
    new["ca_to_mg_ratio"] = (ca / mg).where((ca > 0) & (mg > 0)).round(2)
    new["has_vitamin_d"] = new["vitamin_d_mcg"].fillna(0) > 0

    # Plain lists: iterating Arrow-backed string columns item by item is slow.
    directions = [_text(d) for d in products["directions"].tolist()]
    caution = [
        anticoagulant_caution(_text(w), d)
        for w, d in zip(products["warnings"].tolist(), directions, strict=True)
    ]
    fat = [
        fat_guidance(d, _text(o))
        for d, o in zip(directions, products["other_ingredients"].tolist(), strict=True)
    ]
    new["anticoagulant_evidence"] = caution
    new["has_anticoagulant_caution"] = [c is not None for c in caution]
    new["fat_guidance_evidence"] = fat
    new["has_fat_guidance"] = [f is not None for f in fat]

    per_day = [
        servings_per_day(_text(s) or None, d, None if pd.isna(m) else float(m))
        for s, d, m in zip(
            products["serving_size"].tolist(),
            directions,
            products["max_daily_servings"].tolist(),
            strict=True,
        )
    ]
    servings = pd.Series([p[0] for p in per_day], index=index, dtype=float)
    new["servings_per_day"] = servings
    new["servings_per_day_source"] = [p[1] for p in per_day]
    for column in _PER_DAY_COLUMNS:
        new[column + "_per_day"] = new[column] * servings
    for derived in DERIVED:  # the columns protocol rules compute from the label
        new.update(derived.compute(products, nutrients))
    return pd.concat([products, pd.DataFrame(new, index=index)], axis=1)


def _amount_sums(
    nutrients: pd.DataFrame, product_id: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per product (rows, in `product_id`'s order) and protocol nutrient (columns, all of
    _AMOUNT_COLUMNS): the sum of its usable normalized amounts (NaN when it has none) and
    how many rows were summed (0 when none)."""
    usable = nutrients.loc[
        nutrients["nutrient"].isin(list(_AMOUNT_COLUMNS)) & (nutrients["unit_status"] == "ok"),
        ["product_id", "nutrient", "amount_normalized"],
    ]
    grouped = usable.groupby(["product_id", "nutrient"])["amount_normalized"]
    rows, columns = pd.Index(product_id), list(_AMOUNT_COLUMNS)
    if usable.empty:
        return (
            pd.DataFrame(np.nan, index=rows, columns=columns),
            pd.DataFrame(0, index=rows, columns=columns),
        )
    sums = grouped.sum().unstack().reindex(index=rows, columns=columns)
    counts = grouped.size().unstack(fill_value=0).reindex(index=rows, columns=columns, fill_value=0)
    return sums, counts


# ---- batches of files ---------------------------------------------------------------------

#: nutrients.parquet: the label row, its product, what `normalize_line` found, the result.
NUTRIENTS_SCHEMA: pa.Schema = frame_schema(
    {
        **record_dtypes(LabelRow),
        "product_id": "str",
        **{
            "unit_note" if name == "note" else name: dtype
            for name, dtype in record_dtypes(Normalized).items()
        },
        "unit_normalized": "str",
        "amount_normalized": "float64",
        "dv_declared_pct": "float64",
        "dv_expected_current_pct": "float64",
        "dv_expected_older_pct": "float64",
        "dv_consistent": "boolean",
    }
)

#: products.parquet: the label, then the columns `nutrients_to_products` adds, in its order.
PRODUCTS_SCHEMA: pa.Schema = frame_schema(
    {
        "product_id": "str",
        **record_dtypes(Label),
        **{
            name: dtype
            for column in _AMOUNT_COLUMNS.values()
            for name, dtype in ((column, "float64"), (_rows_column(column), "int64"))
        },
        "k2_form": "str",
        "k2_mcg_per_500mg_ca": "float64",
        "ca_to_mg_ratio": "float64",
        "has_vitamin_d": "bool",
        "anticoagulant_evidence": "str",
        "has_anticoagulant_caution": "bool",
        "fat_guidance_evidence": "str",
        "has_fat_guidance": "bool",
        "servings_per_day": "float64",
        "servings_per_day_source": "str",
        **{column + "_per_day": "float64" for column in _PER_DAY_COLUMNS},
        **{name: dtype for derived in DERIVED for name, dtype in derived.columns},
    }
)


def normalize_batch(labels: pd.DataFrame, rows: pd.DataFrame) -> tuple[pa.Table, pa.Table]:
    """`rows_to_nutrients` and `nutrients_to_products` of a group of whole label files, as
    Arrow tables with NUTRIENTS_SCHEMA and PRODUCTS_SCHEMA."""
    ids = product_ids(labels)
    nutrients = rows_to_nutrients(rows, labels, ids)
    products = nutrients_to_products(nutrients, labels, ids)
    return frame_to_table(nutrients, NUTRIENTS_SCHEMA), frame_to_table(products, PRODUCTS_SCHEMA)


log = logging.getLogger(__name__)


def internal_error_reason(stage: str, exc: BaseException) -> str:
    """The rejection reason of a file (or product) that an internal error stopped."""
    text = " ".join(str(exc).split())
    return f"internal error while {stage}: {type(exc).__name__}" + (f": {text}" if text else "")


def normalize_files(
    labels: pd.DataFrame, rows: pd.DataFrame
) -> tuple[list[tuple[pa.Table, pa.Table]], list[Rejection]]:
    """`normalize_batch` of a group of whole label files, so that an internal error in one
    file loses only that file: if the group fails, each file is normalized on its own, and
    a file that still fails is a rejection naming the error. Returns the (nutrients,
    products) tables and the rejections."""
    try:
        return [normalize_batch(labels, rows)], []
    except Exception:
        log.warning("normalize: a batch failed; normalizing its files one by one", exc_info=True)
    tables: list[tuple[pa.Table, pa.Table]] = []
    rejections: list[Rejection] = []
    for source_file in pd.unique(labels["source_file"]):
        mine = labels[labels["source_file"] == source_file].reset_index(drop=True)
        their_rows = rows[rows["source_file"] == source_file].reset_index(drop=True)
        try:
            tables.append(normalize_batch(mine, their_rows))
        except Exception as exc:
            log.error("normalize: %s: %s", source_file, exc, exc_info=True)
            rejections.append(
                Rejection(str(source_file), internal_error_reason("normalizing", exc))
            )
    return tables, rejections


def batches_aligned(labels_file: pq.ParquetFile, rows_file: pq.ParquetFile) -> bool:
    """Does row group i of the label rows only name files whose labels are in row group i
    of the labels (as the extract stage writes them)? Reads the source_file columns only."""
    if labels_file.num_row_groups != rows_file.num_row_groups:
        return False
    for i in range(labels_file.num_row_groups):
        files = labels_file.read_row_group(i, columns=["source_file"]).column(0).unique()
        named = rows_file.read_row_group(i, columns=["source_file"]).column(0).unique()
        if len(named) and not pc.all(pc.is_in(named, value_set=files)).as_py():
            return False
    return True


def label_batches(labels: Path, rows: Path) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(labels, label rows) of labels.parquet and label_rows.parquet, one batch of whole
    files at a time: their row groups in pairs when they are aligned (the extract stage
    writes one row group per batch of files in each), else the whole tables at once."""
    labels_file, rows_file = pq.ParquetFile(labels), pq.ParquetFile(rows)
    if not batches_aligned(labels_file, rows_file):
        yield pd.read_parquet(labels), pd.read_parquet(rows)
        return
    for i in range(labels_file.num_row_groups):
        yield (
            labels_file.read_row_group(i).to_pandas(),
            rows_file.read_row_group(i).to_pandas(),
        )
