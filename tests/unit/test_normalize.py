"""pipeline.normalize: the real DSLD units through the normalizer, per-day amounts, label text."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

import pandas as pd
import pytest

from labelgen.dsld_formats import records_of, serving_size_text, statements_text
from labelgen.products import dsld_label, dsld_labels
from pipeline.normalize import (
    anticoagulant_caution,
    dv_consistent,
    fat_guidance,
    normalize_line,
    nutrients_to_products,
    parse_dv,
    product_ids,
    rows_to_nutrients,
    servings_per_day,
)
from pipeline.records import Label, LabelRow, records_to_frame
from pipeline.units import lookup_unit
from tests.builders import PROTOCOL_COLUMNS, label_tables

ASSUMED = "assumed 1 serving per day (the directions give no daily dose)"
LABEL_MAX = "the label's maximum daily servings"

# ---- the real DSLD labels as the readers give them ---------------------------------------------


def none(value: Any) -> Any:
    """NaN/NA (how pandas keeps a missing value) as None."""
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))
        else value
    )


@cache
def dsld_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """labels, nutrients and products of all 163 real labels (computed once)."""
    return label_tables(*records_of(dsld_labels()))


#: Every unit in tests/data/dsld/labels.json: canonical spelling, kind, micrograms per 1.
#: A unit that appears in the file and is missing here fails the test below.
DSLD_UNITS: dict[str, tuple[str, str, float | None]] = {
    "mg": ("mg", "mass", 1000.0),
    "mcg": ("mcg", "mass", 1.0),
    "mcg DFE": ("mcg DFE", "mass", 1.0),
    "Gram(s)": ("g", "mass", 1_000_000.0),
    "g": ("g", "mass", 1_000_000.0),
    "ng": ("ng", "mass", 0.001),
    "IU": ("IU", "iu", None),
    "NP": ("NP", "not_provided", None),
    "Not Present": ("NP", "not_provided", None),
    "{Calories}": ("Calories", "energy", None),
    "Calorie(s)": ("Calories", "energy", None),
}

#: Status -> unit as printed -> lines, over all 852 panel lines of the 163 labels.
DSLD_UNIT_STATUSES = {
    "ok": {"mg": 440, "mcg": 137, "IU": 15, "mcg DFE": 10, "Gram(s)": 7, "g": 1, "ng": 1},
    "not_provided": {"NP": 213, "Not Present": 4},
    "not_converted": {"IU": 17},
    "not_mass": {"{Calories}": 4, "Calorie(s)": 3},
}

#: Every IU line in the file by (name, form): status and micrograms per IU.
DSLD_IU_LINES: dict[tuple[str, str | None], tuple[str, float | None]] = {
    ("Vitamin A", "beta-carotene synthetic"): ("not_converted", None),
    ("Vitamin A", "beta-carotene synthetic, vitamin A palmitate in oil"): ("not_converted", None),
    ("Vitamin A", None): ("not_converted", None),
    ("Vitamin A", "retinyl palmitate"): ("ok", 0.3),
    ("Vitamin D", "cholecalciferol (D3)"): ("ok", 0.025),
    ("Vitamin D3", "cholecalciferol (D3)"): ("ok", 0.025),
    ("Vitamin E", "dl-alpha-tocopheryl acetate"): ("ok", 450.0),
    ("Vitamin E", "mixed tocopherols"): ("not_converted", None),
}


def test_every_dsld_unit_is_in_the_table() -> None:
    units = {i["unit"] for label in dsld_labels() for i in label["ingredients"]}
    assert units == set(DSLD_UNITS)
    for printed, (canonical, kind, factor) in DSLD_UNITS.items():
        unit = lookup_unit(printed)
        assert unit is not None, printed
        assert (unit.canonical, unit.kind.value, unit.mcg_factor) == (canonical, kind, factor)


def test_every_dsld_line_normalizes_with_the_expected_status_unit_and_factor() -> None:
    _, nutrients, _ = dsld_tables()
    assert len(nutrients) == 852
    statuses = Counter(zip(nutrients["unit_status"], nutrients["unit_raw"], strict=True))
    expected = {
        (st, unit): n for st, units in DSLD_UNIT_STATUSES.items() for unit, n in units.items()
    }
    assert dict(statuses) == expected
    for row in nutrients.to_dict("records"):
        canonical, kind, factor = DSLD_UNITS[row["unit_raw"]]
        assert row["unit"] == canonical
        if kind == "mass":
            assert row["amount_mcg"] == pytest.approx(row["amount"] * factor, rel=1e-12)
        elif kind == "iu":
            status, per_iu = DSLD_IU_LINES[(row["name_raw"], none(row["form_raw"]))]
            assert row["unit_status"] == status
            expected = None if per_iu is None else row["amount"] * per_iu
            assert none(row["amount_mcg"]) == expected
        else:
            assert pd.isna(row["amount_mcg"])


def test_every_dsld_iu_line_is_in_the_table() -> None:
    _, nutrients, _ = dsld_tables()
    iu = nutrients[nutrients["unit_raw"] == "IU"]
    assert {(n, none(f)) for n, f in zip(iu["name_raw"], iu["form_raw"], strict=True)} == set(
        DSLD_IU_LINES
    )


def test_dsld_nutrients_found() -> None:
    _, nutrients, products = dsld_tables()
    assert nutrients["nutrient"].value_counts().to_dict() == {
        "vitamin_d": 19,
        "calcium": 18,
        "vitamin_a": 17,
        "magnesium": 16,
        "vitamin_k2": 8,
        "vitamin_e": 7,
        "vitamin_k1": 1,
    }
    assert len(products) == 163
    assert products["product_id"].is_unique
    assert int(products["vitamin_k_unresolved_rows"].sum()) == 0


def dsld_product(dsld_id: str) -> dict[str, Any]:
    _, _, products = dsld_tables()
    row = products[products["source_file"] == f"dsld/{dsld_id}.json"]
    assert len(row) == 1
    return dict(row.iloc[0])


PRODUCT_FIELDS = [*PROTOCOL_COLUMNS, "has_anticoagulant_caution", "has_fat_guidance"]


def fields(product: dict[str, Any]) -> list[Any]:
    return [none(product[f]) for f in PRODUCT_FIELDS]


def test_dsld_11243_menaq7_with_too_little_k2() -> None:
    # Calcium 800 mg, Magnesium 100 mg, Vitamin D3 400 IU, Vitamin K (MenaQ7) 80 mcg
    assert fields(dsld_product("11243")) == [
        800.0, 100.0, 10.0, None, 80.0, "MK-7", 50.0, 8.0, False, False
    ]  # fmt: skip


def test_dsld_11249_k1_only_with_food() -> None:
    assert fields(dsld_product("11249")) == [
        900.0, 225.0, 22.5, 120.0, None, None, 0.0, 4.0, False, True
    ]  # fmt: skip


def test_dsld_209214_menatetrenone_and_vitamin_d_in_iu() -> None:
    assert fields(dsld_product("209214")) == [
        50.0, 40.0, 25.0, None, 40.0, "MK-4", 400.0, 1.25, False, False
    ]  # fmt: skip


def test_dsld_277758_k2_cis_form_with_anticoagulant_caution() -> None:
    product = dsld_product("277758")
    assert fields(product) == [
        210.0, 15.0, None, None, 180.0, "unspecified", 428.57, 14.0, True, False
    ]  # fmt: skip
    assert product["anticoagulant_evidence"] == (
        "If you are allergic to any of the ingredients, taking anti-coagulants or "
        "anti-diabetic medication, please consult a physician before taking this or any "
        "other dietary supplement"
    )


def test_dsld_dv_mismatches_are_only_real_ones() -> None:
    _, nutrients, _ = dsld_tables()
    assert nutrients["dv_consistent"].value_counts(dropna=False).to_dict() == {
        pd.NA: 795,
        True: 51,
        False: 6,
    }
    bad = nutrients[nutrients["dv_consistent"] == False]  # noqa: E712
    assert list(zip(bad["source_file"], bad["name_raw"], bad["dv_raw"], strict=True)) == [
        ("dsld/6780.json", "Calcium", "10%"),  # 116 mg: 9% or 12%
        ("dsld/209214.json", "Vitamin D3", "200%"),  # 1,000 IU: 125% or 250%
        ("dsld/220964.json", "Calcium", "30%"),  # 210 mg: 16% or 21%
        ("dsld/220964.json", "Magnesium", "2.2%"),
        ("dsld/220964.json", "Vitamin K", "0%"),
        ("dsld/277758.json", "Calcium", "26%"),  # the EU reference value (800 mg)
    ]


# ---- servings per day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serving", "directions", "max_daily", "expected"),
    [
        ("2 Capsules", "Take 2 capsules daily.", None, (1.0, 'directions: "2 capsules daily"')),
        (
            "3 Tablets",
            "Take one tablet three times a day.",
            None,
            (1.0, 'directions: "one tablet three times a day"'),
        ),
        (
            "1 Lozenge",
            "Take 1 lozenge 2 to 3 times daily.",
            None,
            (3.0, 'directions: "1 lozenge 2 to 3 times daily"'),
        ),
        (  # real DSLD 11249: the frequency of the second alternative is not the first's
            "3 Tablet(s)",
            "Recommended Use: Three [3] tablets at mealtime or one [1] tablet three times a day "
            "with food.",
            None,
            (1.0, 'directions: "Three [3] tablets at mealtime"'),
        ),
        (  # real DSLD 11243
            "4 Tablet(s)",
            "Recommended Use: Take four [4] tablets per day.",
            None,
            (1.0, 'directions: "four [4] tablets per day"'),
        ),
        (
            "2 Tablet(s)",
            "Recommended Use: Take two (2) tablets daily.",
            None,
            (1.0, 'directions: "two (2) tablets daily"'),
        ),
        (
            "1 Tablet",
            "Take 2 tablets twice daily with a meal.",
            None,
            (4.0, 'directions: "2 tablets twice daily with a meal"'),
        ),
        (
            "1 Tablet(s)",
            "Take 1-2 tablets, once or twice daily.",
            None,
            (4.0, 'directions: "1-2 tablets, once or twice daily"'),
        ),
        (
            "1 Lozenge(s)",
            "Dissolve one (1) lozenge in the mouth, two (2) to four (4) times daily.",
            None,
            (4.0, 'directions: "one (1) lozenge in the mouth, two (2) to four (4) times daily"'),
        ),
        (
            "1 Lozenge(s)",
            "Adults take (1) lozenge daily.",
            None,
            (1.0, 'directions: "(1) lozenge daily"'),
        ),
        (
            "0.5 Lozenge(s)",
            "Take one lozenge daily.",
            None,
            (2.0, 'directions: "one lozenge daily"'),
        ),
        ("2 Softgels", "Take 1 serving daily.", None, (1.0, 'directions: "1 serving daily"')),
        ("2", "Take 4 capsules daily.", None, (2.0, 'directions: "4 capsules daily"')),
        ("2 Capsules", "Take 2 softgels daily.", None, (1.0, 'directions: "2 softgels daily"')),
        ("2 Tablets", "Take 2 pills daily.", None, (1.0, 'directions: "2 pills daily"')),
        # DSLD's maximum daily servings wins over the directions
        ("1 Lozenge", "Take 1 lozenge 2 to 3 times daily.", 2, (2.0, LABEL_MAX)),
        ("2 Capsules", "", 1.0, (1.0, LABEL_MAX)),
        ("2 Capsules", "Take 2 capsules daily.", 0, (1.0, 'directions: "2 capsules daily"')),
        # no daily dose: 1 serving, said to be assumed
        ("2 Capsules", "", None, (1.0, ASSUMED)),
        ("2 Capsules", "Take as directed by your physician.", None, (1.0, ASSUMED)),
        (None, "Take 2 capsules daily.", None, (1.0, ASSUMED)),
        # a dose in another unit than the serving cannot be divided by it
        ("30.3 Gram(s)", "1 scoop with 250 ml of water in the morning.", None, (1.0, ASSUMED)),
        ("3 Gram(s)", "Adults, take up to 12 drops per day.", None, (1.0, ASSUMED)),
        (
            "1 Lozenge(s)",
            "Do not exceed three tablets in any 24-hour period.",
            None,
            (1.0, ASSUMED),
        ),
        ("1 Capsule(s)", "Take one (1) lozenge daily.", None, (1.0, ASSUMED)),
    ],
)
def test_servings_per_day(
    serving: str | None, directions: str, max_daily: float | None, expected: tuple[float, str]
) -> None:
    assert servings_per_day(serving, directions, max_daily) == expected


def test_servings_per_day_over_all_dsld_directions() -> None:
    """Every real direction, without DSLD's maximum: no fractions, nothing above 6 a day."""
    found: Counter[tuple[float, str]] = Counter()
    for label in dsld_labels():
        value, source = servings_per_day(
            serving_size_text(label), statements_text(label, "Directions"), None
        )
        found[(value, source.split(":")[0])] += 1
    assert dict(found) == {
        (1.0, "directions"): 80,
        (1.0, ASSUMED): 40,
        (2.0, "directions"): 12,
        (3.0, "directions"): 18,
        (4.0, "directions"): 12,
        (6.0, "directions"): 1,
    }


def test_servings_per_day_in_products_uses_dsld_maximum() -> None:
    _, _, products = dsld_tables()
    sources = products["servings_per_day_source"].map(lambda s: s.split(":")[0])
    assert Counter(zip(products["servings_per_day"], sources, strict=True)) == {
        (1.0, LABEL_MAX): 106,
        (1.0, ASSUMED): 15,
        (1.0, "directions"): 6,
        (2.0, LABEL_MAX): 10,
        (3.0, LABEL_MAX): 3,
        (3.0, "directions"): 1,
        (4.0, LABEL_MAX): 10,
        (5.0, LABEL_MAX): 2,
        (6.0, LABEL_MAX): 1,
        (8.0, LABEL_MAX): 1,
        (10.0, LABEL_MAX): 1,
        (12.0, LABEL_MAX): 7,
    }


# ---- label text: anticoagulant caution, take with fat -------------------------------------------


def test_anticoagulant_caution_real_dsld_277758() -> None:
    label = dsld_label("277758")
    said = anticoagulant_caution(
        statements_text(label, "Precautions"), statements_text(label, "Directions")
    )
    assert said is not None and "taking anti-coagulants" in said


@pytest.mark.parametrize(
    ("warnings", "found"),
    [
        (
            "Caution: If you take warfarin (Coumadin) or any other anticoagulant, consult your "
            "physician. Keep out of reach of children.",
            "Caution: If you take warfarin (Coumadin) or any other anticoagulant, consult your "
            "physician",
        ),
        (
            "Do not use if you are on blood-thinning medication.",
            "Do not use if you are on blood-thinning medication",
        ),
        (
            "Consult your doctor if you take blood thinners.",
            "Consult your doctor if you take blood thinners",
        ),
        (
            "Not for people taking a vitamin K antagonist",
            "Not for people taking a vitamin K antagonist",
        ),
        # negatives
        ("Keep out of reach of children.", None),
        ("Supports healthy blood sugar levels and red blood cell formation.", None),
        ("Supports normal blood clotting.", None),
        ("Consult your physician if you are pregnant or taking medication.", None),
        ("", None),
    ],
)
def test_anticoagulant_caution(warnings: str, found: str | None) -> None:
    assert anticoagulant_caution(warnings, "") == found


def test_anticoagulant_caution_in_directions_too() -> None:
    assert anticoagulant_caution("", "Take 1 daily; not with warfarin.") == "not with warfarin"


def test_fat_guidance_real_dsld_11249() -> None:
    label = dsld_label("11249")
    said = fat_guidance(statements_text(label, "Directions"), ", ".join(label["other_ingredients"]))
    assert said == (
        "Recommended Use: Three [3] tablets at mealtime or one [1] tablet three times a day "
        "with food"
    )


@pytest.mark.parametrize(
    ("directions", "other", "found"),
    [
        ("Take 2 capsules daily with a meal.", "", "Take 2 capsules daily with a meal"),
        (
            "Take 1 softgel with a fat-containing meal.",
            "",
            "Take 1 softgel with a fat-containing meal",
        ),
        ("Take after meals.", "", "Take after meals"),
        ("Take at mealtime.", "", "Take at mealtime"),
        (
            "Take 1 lozenge daily, preferably with a meal.",
            "",
            "Take 1 lozenge daily, preferably with a meal",
        ),
        (
            "Take 1 softgel daily.",
            "Gelatin, Olive Oil",
            "oil carrier in the other ingredients: Olive Oil",
        ),
        (
            "Take 1 softgel daily.",
            "MCT Oil, Gelatin",
            "oil carrier in the other ingredients: MCT Oil",
        ),
        (
            "",
            "Water, vitamin D3, medium chain triglycerides (MCTs), curcumin.",
            "oil carrier in the other ingredients: medium chain triglycerides",
        ),
        # negatives
        ("Take 1 lozenge approximately 1 hour after meals.", "", None),  # real DSLD 6775
        ("", "Maltodextrin, medium-chain triglyceride powder", None),
        ("Take one lozenge 30 - 60 minutes after meals or prior to bedtime.", "", None),
        ("Take with or without food.", "", None),
        ("Take with a glass of water.", "", None),
        ("Take on an empty stomach.", "", None),
        ("Take 1 lozenge daily.", "Fructose, Coconut Oil powder, Stearic Acid", None),
        ("", "", None),
    ],
)
def test_fat_guidance(directions: str, other: str, found: str | None) -> None:
    assert fat_guidance(directions, other) == found


# ---- %DV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("38%", 38.0),
        ("38", 38.0),
        (" 100 % ", 100.0),
        ("2.2%", 2.2),
        ("2,5%", 2.5),
        ("4,167%", 4167.0),
        ("1,250%", 1250.0),
        ("<1%", 1.0),
        ("*", None),
        ("**", None),
        ("†", None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_parse_dv(printed: object, value: float | None) -> None:
    assert parse_dv(printed) == value


@pytest.mark.parametrize(
    ("declared", "current", "older", "consistent"),
    [
        (38.0, 38.46, 50.0, True),  # 500 mg calcium, current DV
        (50.0, 38.46, 50.0, True),  # older DV only
        (60.0, 38.46, 50.0, False),
        (44.0, 38.46, 50.0, False),  # 5.5 points off the current DV (10% is 3.8)
        (45.0, 38.46, 50.0, True),  # within 10% of the older DV's 50
        (2.0, 1.2, 1.0, True),  # small values: within 1 percentage point
        (3.0, 1.2, 1.0, False),
        (None, 38.46, 50.0, None),
        (38.0, None, None, None),
    ],
)
def test_dv_consistent(
    declared: float | None, current: float | None, older: float | None, consistent: bool | None
) -> None:
    assert dv_consistent(declared, current, older) == consistent


# ---- small tables through rows_to_nutrients and nutrients_to_products ----------------------------


def tables(
    labels: list[Label], rows: list[LabelRow]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    label_frame = records_to_frame(labels, Label)
    nutrients = rows_to_nutrients(records_to_frame(rows, LabelRow), label_frame)
    return label_frame, nutrients, nutrients_to_products(nutrients, label_frame)


def row(
    index: int, line: int, name: str, amount: str | None, unit: str | None, **kw: Any
) -> LabelRow:
    return LabelRow("t.csv", index, line, name, amount, unit, **kw)


def test_product_ids_are_stable_and_unique() -> None:
    labels = records_to_frame(
        [
            Label("a/b.pdf", 0, "Bone Matrix Calcium + K2"),
            Label("a/b.pdf", 1, "Bone Matrix Calcium + K2"),
            Label("c.csv", 0, "Bone Matrix Calcium + K2"),
            Label("c.csv", 1, "!!!"),
        ],
        Label,
    )
    ids = list(product_ids(labels))
    assert (
        ids[0].startswith("bone-matrix-calcium-k2-")
        and len(ids[0]) == len("bone-matrix-calcium-k2-") + 8
    )
    assert ids[1] == ids[0] + "-2"
    assert ids[2].startswith("bone-matrix-calcium-k2-") and ids[2] != ids[0]
    assert ids[3].startswith("product-")
    assert list(product_ids(labels)) == ids


def test_rows_to_nutrients_normalized_amounts_and_dv() -> None:
    _, nutrients, _ = tables(
        [Label("t.csv", 0, "P")],
        [
            row(0, 1, "Calcium", "500", "mg", dv_raw="38%", form_raw="calcium citrate"),
            row(0, 2, "Vitamin D3", "1,000", "IU", dv_raw="250%"),
            row(0, 3, "Vitamin K2", "0.1", "mg", dv_raw="83%", form_raw="MenaQ7"),
            row(0, 4, "Magnesium", "250", "mg", dv_raw="*"),
            row(0, 5, "Zinc", "15", "mg", dv_raw="136%"),
        ],
    )
    got = nutrients[
        [
            "nutrient",
            "k2_form",
            "unit_normalized",
            "amount_normalized",
            "dv_declared_pct",
            "dv_expected_current_pct",
            "dv_expected_older_pct",
        ]
    ].astype(object)
    got = got.where(got.notna(), None)
    assert got.values.tolist() == [
        ["calcium", None, "mg", 500.0, 38.0, 500 / 1300 * 100, 50.0],
        ["vitamin_d", None, "mcg", 25.0, 250.0, 125.0, 250.0],
        ["vitamin_k2", "MK-7", "mcg", 100.0, 83.0, 100 / 120 * 100, 125.0],
        ["magnesium", None, "mg", 250.0, None, 250 / 420 * 100, 62.5],
        [None, None, None, None, 136.0, None, None],
    ]
    assert nutrients["dv_consistent"].tolist() == [True, True, True, pd.NA, pd.NA]
    assert nutrients["product_id"].nunique() == 1


def test_products_metrics_and_per_day_amounts() -> None:
    _, _, products = tables(
        [
            Label(
                "t.csv",
                0,
                "Daily Calcium with K2",
                serving_size="2 Tablets",
                directions="Take 2 tablets twice daily with food.",
                warnings="Consult your doctor if you take anticoagulant medication.",
            ),
            Label("t.csv", 1, "Unknown K", serving_size="1 Capsule"),
            Label("t.csv", 2, "Two K2 forms", serving_size="1 Capsule"),
        ],
        [
            row(0, 1, "Vitamin D3", "50", "mcg"),
            row(0, 2, "Vitamin K2", "124", "mcg", form_raw="menaquinone-7 from natto"),
            row(0, 3, "Calcium", "1,000", "mg", form_raw="calcium carbonate"),
            row(0, 4, "Magnesium", "500", "mg"),
            row(1, 1, "Calcium", "500", "mg"),
            row(1, 2, "Vitamin K", "100", "mcg"),
            row(2, 1, "Calcium", "250", "mg"),
            row(2, 2, "Vitamin K2", "50", "mcg", form_raw="MK-7"),
            row(2, 3, "Vitamin K2", "25", "mcg", form_raw="MK-4"),
        ],
    )
    columns = [
        "calcium_mg",
        "calcium_rows",
        "vitamin_k2_mcg",
        "vitamin_k_unresolved_mcg",
        "vitamin_k_unresolved_rows",
        "k2_form",
        "k2_mcg_per_500mg_ca",
        "ca_to_mg_ratio",
        "has_vitamin_d",
        "has_anticoagulant_caution",
        "has_fat_guidance",
        "servings_per_day",
        "calcium_mg_per_day",
        "vitamin_d_mcg_per_day",
    ]
    got = products[columns].astype(object)
    assert got.where(got.notna(), None).values.tolist() == [
        [1000.0, 1, 124.0, None, 0, "MK-7", 62.0, 2.0, True, True, True, 2.0, 2000.0, 100.0],
        # vitamin K of no form: the K2 ratio is not computed (not 0)
        [500.0, 1, None, 100.0, 1, None, None, None, False, False, False, 1.0, 500.0, None],
        [250.0, 1, 75.0, None, 0, "mixed", 150.0, None, False, False, False, 1.0, 250.0, None],
    ]
    assert products["servings_per_day_source"].tolist() == [
        'directions: "2 tablets twice daily with food"',
        ASSUMED,
        ASSUMED,
    ]
    assert products["fat_guidance_evidence"][0] == "Take 2 tablets twice daily with food"


def test_lines_that_are_not_ok_do_not_count_toward_amounts() -> None:
    _, _, products = tables(
        [Label("t.csv", 0, "P", serving_size="1 Tablet")],
        [
            row(0, 1, "Calcium", "500", "mg"),
            row(0, 2, "Calcium", "abc", "mg"),
            row(0, 3, "Vitamin K2", "100", "IU", form_raw="MK-7"),
            row(0, 4, "Vitamin D", None, "NP"),
        ],
    )
    p = products.iloc[0]
    assert (p["calcium_mg"], p["calcium_rows"], p["vitamin_k2_rows"], p["vitamin_d_rows"]) == (
        500.0,
        1,
        0,
        0,
    )
    assert pd.isna(p["vitamin_k2_mcg"]) and p["k2_mcg_per_500mg_ca"] == 0.0


def test_normalize_line_is_cached() -> None:
    first = normalize_line("Calcium", None, "500", "mg")
    assert normalize_line("Calcium", None, "500", "mg") is first


def test_products_with_missing_text_fields_beside_filled_ones() -> None:
    """pandas turns a None beside a string into NaN: the label text must still read as empty."""
    from pipeline.records import Label, LabelRow, records_to_frame

    labels = records_to_frame(
        [
            Label("a.csv", 0, "With", serving_size="2 Tablets", directions="Take 2 tablets daily."),
            Label("a.csv", 1, "Without", serving_size=None, directions=None),  # type: ignore[arg-type]
        ],
        Label,
    )
    rows = records_to_frame(
        [
            LabelRow("a.csv", 0, 1, "Calcium", "500", "mg"),
            LabelRow("a.csv", 1, 1, "Calcium", "250", "mg"),
        ],
        LabelRow,
    )
    products = nutrients_to_products(rows_to_nutrients(rows, labels), labels)
    assert products["servings_per_day_source"].tolist() == [
        'directions: "2 tablets daily"',
        "assumed 1 serving per day (the directions give no daily dose)",
    ]
    assert products["has_fat_guidance"].tolist() == [False, False]
