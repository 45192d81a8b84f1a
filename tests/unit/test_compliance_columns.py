"""pipeline.compliance.rows_table / products_table, column-wise: each rule's ok_ and why_
columns, exact, over hand-made lines (a missing Daily Value, a unit that does not convert,
a footnote present and absent, missing amounts, DSLD's 0 %DV), without Great Expectations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import compliance
from pipeline.compliance import _Distinct

nan = np.nan
_COLUMNS = [
    "product_id",
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
]
_LINES = [
    # a: a PDF's text layer (every symbol and footnote kept)
    ("a", 1, 1.0, "Vitamin C", nan, "500", "mg", nan, "556%", 500_000.0, nan, nan, nan),
    ("a", 2, 1.0, "Vitamin A", nan, "5000", "IU", nan, "100%", nan, nan, nan, nan),
    ("a", 3, 1.0, "Iron", nan, "18", "mg", nan, "100%", 18_000.0, nan, nan, nan),
    ("a", 4, 1.0, "Thiamin", nan, "1.5", "mg", nan, "100%", 1500.0, nan, nan, nan),
    ("a", 5, nan, "Zinc", nan, "0", "mg", nan, "0%", 0.0, nan, nan, nan),
    ("a", 6, nan, "Melatonin", nan, "3", "mg", nan, "5%", 3000.0, nan, nan, nan),
    ("a", 7, nan, "Ashwagandha", nan, "300", "mg", nan, nan, 300_000.0, nan, nan, nan),
    ("a", 8, nan, "Proprietary Blend", nan, "200", "CFU", nan, nan, nan, nan, nan, nan),
    ("a", 9, nan, "Ginger", "Proprietary Blend", "50", "mg", nan, nan, 50_000.0, nan, nan, nan),
    ("a", 10, nan, "Total Fat", nan, nan, nan, nan, "2%", nan, nan, nan, nan),
    ("a", 11, nan, "Calcium", nan, "1300", "mg", "(as carbonate)", "100%", 1_300_000.0,
     "calcium", 100.0, 130.0),
    ("a", 12, nan, "Vitamin E", nan, "30", "IU", nan, "100%", nan, nan, nan, nan),
    # b: DSLD label JSON (0 for "no %DV" and for "<1%")
    ("b", 1, nan, "Zinc", nan, "11", "mg", nan, "0%", 11_000.0, nan, nan, nan),
    ("b", 2, nan, "Potassium", nan, "4", "mg", nan, "0", 4000.0, nan, nan, nan),
    ("b", 3, nan, "Melatonin", nan, "3", "mg", nan, "0", 3000.0, nan, nan, nan),
    ("b", 4, nan, "Vitamin C", nan, "abc", "mg", nan, "50%", nan, nan, nan, nan),
    ("b", 5, nan, "Vitamin C", nan, "45", "mg", nan, nan, 45_000.0, nan, nan, nan),
    ("b", 6, nan, "Herbal Blend", nan, nan, nan, nan, nan, nan, nan, nan, nan),
    ("b", 7, nan, "(Proprietary Blend)", nan, "100", "mg", nan, nan, 100_000.0, nan, nan, nan),
    # c: OCR of an image (symbols and footnotes may be lost)
    ("c", 1, 2.0, "Vitamin C", nan, "100", "IU", nan, "50%", nan, nan, nan, nan),
    ("c", 2, 2.0, "Choline", nan, "55", "mg", nan, "20%", 55_000.0, nan, nan, nan),
    ("c", 3, 2.0, "Melatonin", nan, "3", "mg", nan, "*", 3000.0, nan, nan, nan),
]  # fmt: skip


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = pd.DataFrame(_LINES, columns=_COLUMNS)
    rows.insert(1, "source_file", rows["product_id"] + ".json")
    products = pd.DataFrame(
        [
            ("a", "a.json", "pdf", "*Daily Value not established.", "1 Tablet", "30"),
            ("b", "b.json", "dsld-json", nan, nan, nan),
            ("c", "c.json", "image-ocr", nan, "2 Capsules", nan),
        ],
        columns=[
            "product_id",
            "source_file",
            "source_format",
            "footnotes",
            "serving_size",
            "servings_per_container",
        ],
    )
    return rows.sample(frac=1, random_state=3), products  # (rows_table sorts them)


T, F, N = True, False, None
_NO_SYMBOL = "expected a symbol (*) that refers to 'Daily Value not established'"
_BLEND = "expected its name and total weight (e.g. 500 mg)"
_ORDER = "(the order of 101.36(b)(2)(i)(B))"
ROWS: dict[str, tuple[list[bool | None], list[str]]] = {
    "units": (
        [N, F, N, N, N, N, N, N, N, N, N, F, N, N, N, N, N, N, N, N, N, N],
        [
            "line 2, page 1 'Vitamin A': 5000 IU: expected Vitamin A in mcg RAE (IU only in "
            "parentheses after it; IU alone is the pre-2016 unit)",
            "line 12 'Vitamin E': 30 IU: expected Vitamin E in mg or mg AT (IU only in "
            "parentheses after it; IU alone is the pre-2016 unit)",
        ],
    ),
    "dv_declared": (
        [T, T, T, T, N, N, N, N, N, N, T, T, F, T, N, N, F, N, N, N, N, N],
        [
            "line 1 'Zinc': 11 mg has a Daily Value (11 mg) but its %DV column gives no %DV: "
            "expected a %DV",
            "line 5 'Vitamin C': 45 mg has a Daily Value (90 mg) but its %DV column gives no "
            "%DV: expected a %DV",
        ],
    ),
    "dv_2016": (
        [T, F, T, F, T, N, N, N, N, N, T, F, N, T, N, N, N, N, N, N, F, N],
        [
            "line 2, page 1 'Vitamin A': declared 100% for 5000 IU matches the pre-2016 Daily "
            "Value (5,000 IU, 100%), not the 2016 one (900 mcg RAE)",
            "line 4, page 1 'Thiamin': declared 100% for 1.5 mg matches the pre-2016 Daily "
            "Value (1.5 mg, 100%), not the 2016 one (1.2 mg, expected 125%)",
            "line 12 'Vitamin E': declared 100% for 30 IU matches the pre-2016 Daily Value "
            "(30 IU, 100%), not the 2016 one (15 mg)",
            "line 2, page 2 'Choline': declared 20% for 55 mg: expected 10% of the 2016 Daily "
            "Value (550 mg)",
        ],
    ),
    "no_dv_symbol": (
        [N, N, N, N, N, F, F, F, N, N, N, N, N, N, N, N, N, N, N, N, N, T],
        [
            f"line 6 'Melatonin' has no Daily Value but gives 5%: {_NO_SYMBOL}, and no %DV",
            f"line 7 'Ashwagandha' has no Daily Value and no symbol in the %DV column: "
            f"{_NO_SYMBOL}",
            f"line 8 'Proprietary Blend' has no Daily Value and no symbol in the %DV column: "
            f"{_NO_SYMBOL}",
        ],
    ),
    "order": (
        [T, F, T, F, T, N, N, N, N, N, F, F, T, T, N, F, F, N, N, T, T, N],
        [
            "line 2, page 1 'Vitamin A' is listed after line 1, page 1 'Vitamin C': expected "
            f"vitamin a before vitamin c {_ORDER}",
            "line 4, page 1 'Thiamin' is listed after line 3, page 1 'Iron': expected thiamin "
            f"before iron {_ORDER}",
            f"line 11 'Calcium' is listed after line 5 'Zinc': expected calcium before zinc "
            f"{_ORDER}",
            "line 12 'Vitamin E' is listed after line 5 'Zinc': expected vitamin e before zinc "
            f"{_ORDER}",
            "line 4 'Vitamin C' is listed after line 2 'Potassium': expected vitamin c before "
            f"potassium {_ORDER}",
            "line 5 'Vitamin C' is listed after line 2 'Potassium': expected vitamin c before "
            f"potassium {_ORDER}",
        ],
    ),
    "zero": (
        [T, T, T, T, F, N, N, N, N, N, T, T, T, T, N, N, T, N, N, T, T, N],
        ["line 5 'Zinc' is declared at zero (0 mg): expected it left off the panel"],
    ),
    "blend": (
        [N, N, N, N, N, N, N, F, N, N, N, N, N, N, N, N, N, F, F, N, N, N],
        [
            f"line 8 'Proprietary Blend': the blend gives 200 CFU: {_BLEND}",
            f"line 6 'Herbal Blend': the blend gives no amount: {_BLEND}",
            f"line 7 '(Proprietary Blend)': the blend no name: {_BLEND}",
        ],
    ),
}


def test_each_row_rule_is_assessed_as_written() -> None:
    rows = compliance.rows_table(*_tables())
    assert rows[["product_id", "line_no"]].values.tolist() == [
        [pid, line] for pid, line, *_ in _LINES
    ]
    assert rows["row_id"].tolist() == list(range(len(_LINES)))
    assert set(ROWS) == {rule.name for rule in compliance.RULES if rule.level == "row"}
    for rule, (ok, why) in ROWS.items():
        assert rows[f"ok_{rule}"].tolist() == ok, rule
        assert rows[f"why_{rule}"].dropna().tolist() == why, rule
        # a detail exactly where the rule is broken; Python's True/False/None, as objects
        assert rows[f"why_{rule}"].notna().tolist() == [v is False for v in ok], rule
        assert rows[f"ok_{rule}"].dtype == object and rows[f"why_{rule}"].dtype == object
        assert {type(v) for v in rows[f"ok_{rule}"]} <= {bool, type(None)}


def test_each_product_rule_is_assessed_as_written() -> None:
    nutrients, products = _tables()
    table = compliance.products_table(products, compliance.rows_table(nutrients, products))
    missing_servings = (
        'the panel states no "Servings Per Container": expected it, unless the net quantity '
        "of contents states the number of servings (the net quantity is not read: check it "
        "on the label)"
    )
    expected = {
        "heading": ([T, N, T], [N, N, N]),
        "serving_size": (
            [T, F, T],
            [N, 'the panel states no serving size: expected "Serving Size ..."', N],
        ),
        "servings_per_container": ([T, F, F], [N, missing_servings, missing_servings]),
        # a's "not established" footnote is there; c's line needs one, but OCR may lose it
        "dv_not_established_footnote": ([T, N, N], [N, N, N]),
        "calorie_footnote": (
            [F, N, N],
            [
                "line 10 'Total Fat' gives a %DV, but the panel has no footnote 'Percent Daily "
                "Values are based on a 2,000 calorie diet'",
                N,
                N,
            ],
        ),
    }
    assert set(expected) == {rule.name for rule in compliance.RULES if rule.level == "product"}
    for rule, (ok, why) in expected.items():
        assert table[f"ok_{rule}"].tolist() == ok, rule
        assert table[f"why_{rule}"].tolist() == why, rule


def test_no_lines_give_empty_rule_columns() -> None:
    nutrients, products = _tables()
    rows = compliance.rows_table(nutrients.iloc[:0], products)
    assert len(rows) == 0 and {f"ok_{rule}" for rule in ROWS} <= set(rows.columns)
    table = compliance.products_table(products, rows)
    assert table["ok_calorie_footnote"].tolist() == [N, N, N]


def test_distinct_values_are_looked_up_once_and_spread_back() -> None:
    frame = pd.DataFrame({"unit": pd.Series(["mg", None, "IU", "mg", nan], dtype="str")})
    unit = _Distinct(frame, "unit")
    assert unit.values == ["mg", None, "IU"]
    assert unit.codes.tolist() == [0, 1, 2, 0, 1]
    seen: list[object] = []

    def is_mg(value: object) -> bool:
        seen.append(value)
        return value == "mg"

    assert unit.flags(is_mg).tolist() == [T, F, F, T, F]
    assert seen == ["mg", None, "IU"]  # once per distinct value
    numbers = unit.spread([1.5, None, 2.0], float)
    assert numbers.dtype == float and numbers[[0, 2, 3]].tolist() == [1.5, 2.0, 1.5]
    assert np.isnan(numbers[[1, 4]]).all()
    assert unit.spread(["a", ("b", 1), None]).tolist() == ["a", ("b", 1), None, "a", ("b", 1)]
    absent = _Distinct(frame, "no such column")
    assert absent.values == [None] and absent.codes.tolist() == [0] * 5
