"""The GX data-quality suites end to end: label rows -> nutrients -> products -> findings.

One product per case, all validated together through one module-scoped Validator (GX is set
up once); each test reads the findings of its own product, so a finding that leaks onto
another product fails the test of that product.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from pipeline.records import Label, LabelRow, ReadIssue, records_to_frame
from pipeline.validate import Validator
from tests.builders import label_tables, score_records, tables_to_findings
from tests.stages_path import run_stages

SOURCE = "dq/labels.csv"
WARFARIN = "Caution: consult your physician before use if you take warfarin."
CA_LIMIT = "2500 mg/day (adults 19-50; 2000 mg/day from 51)"


def good_rows(*, start: int = 1) -> list[LabelRow]:
    """Calcium, K2 (MK-7), magnesium and vitamin D that pass every data-quality check."""
    lines = [
        ("Calcium", "500", "mg", "38%", "calcium citrate"),
        ("Vitamin K2", "100", "mcg", "83%", "menaquinone-7"),
        ("Magnesium", "250", "mg", "60%", "magnesium glycinate"),
        ("Vitamin D3", "25", "mcg", "125%", "cholecalciferol"),
    ]
    return [
        LabelRow(SOURCE, 0, start + n, name, amount, unit, dv, form)
        for n, (name, amount, unit, dv, form) in enumerate(lines)
    ]


def line(line_no: int, name: str, amount: str | None, unit: str | None, **kw: Any) -> LabelRow:
    return LabelRow(SOURCE, 0, line_no, name, amount, unit, **kw)


# name -> (label fields, rows). label_index is the position in this dict (case() sets it).
CASES: dict[str, tuple[dict[str, Any], list[LabelRow]]] = {}


def case(name: str, rows: list[LabelRow], **label: Any) -> None:
    label.setdefault("serving_size", "2 Capsules")
    label.setdefault("directions", "Take 2 capsules daily with a meal.")
    label.setdefault("warnings", WARFARIN)
    CASES[name] = (label, [replace(r, label_index=len(CASES)) for r in rows])


def index_of(name: str) -> int:
    return list(CASES).index(name)


def _define_cases() -> None:
    case("clean", good_rows())
    case(
        "dv matches neither",
        [*good_rows()[1:], line(5, "Calcium", "500", "mg", dv_raw="60%")],
    )
    case(
        "dv matches older only",
        [
            line(1, "Calcium", "500", "mg", dv_raw="50%"),  # 1000 mg older DV
            line(2, "Vitamin D", "400", "IU", dv_raw="100%"),  # 10 mcg older DV
            line(3, "Magnesium", "200", "mg", dv_raw="50%"),  # 400 mg older DV
            line(4, "Vitamin K2", "80", "mcg", dv_raw="100%", form_raw="MK-7"),
        ],
    )
    case(
        "unknown units",
        [
            *good_rows()[:3],
            line(4, "Vitamin D3", "25", "mkg"),  # a protocol nutrient: blocking
            line(5, "Boron", "3", "furlongs"),  # not a protocol nutrient
        ],
    )
    case(
        "vitamin k in iu",
        [*good_rows()[:1], line(2, "Vitamin K2", "100", "IU", form_raw="MK-7")],
    )
    case(
        "negative amount",
        [*good_rows()[:2], line(3, "Magnesium", "-5", "mg"), *good_rows(start=4)[3:]],
    )
    case(
        "missing amount",
        [
            *good_rows(),
            line(5, "Zinc", None, "mg"),
            line(6, "Bone Blend", "150", "mg"),
            line(7, "Natto Extract", None, None, parent="Bone Blend"),  # a member: no finding
            line(8, "Boron", None, "NP"),  # NP: no finding
        ],
    )
    case(
        "unreadable calcium",
        [line(1, "Calcium", "5OO", "mg"), *good_rows(start=2)[1:]],
    )
    case(
        "two calcium lines",
        [
            line(1, "Calcium", "300", "mg", form_raw="calcium carbonate"),
            line(2, "Calcium", "200", "mg", form_raw="calcium citrate"),
            *good_rows(start=3)[1:],
        ],
    )
    case("no serving size", good_rows(), serving_size=None, directions="")
    case(
        "above upper limits",
        [
            line(1, "Calcium", "1,300", "mg"),
            line(2, "Vitamin D3", "125", "mcg"),
            line(3, "Magnesium", "400", "mg"),
            line(4, "Vitamin K2", "260", "mcg", form_raw="MK-7"),
        ],
        serving_size="2 Tablets",
        directions="Take 2 tablets twice daily with food.",
    )
    case(
        "at upper limits",
        [
            line(1, "Calcium", "1,250", "mg"),
            line(2, "Vitamin D3", "50", "mcg"),
            line(3, "Magnesium", "175", "mg"),
        ],
        max_daily_servings=2.0,
    )
    case(
        "vitamin k of no form",
        [*good_rows()[:1], line(2, "Vitamin K", "100", "mcg"), *good_rows(start=3)[2:]],
    )
    case(
        "vitamin k naming k1 and k2",
        [
            *good_rows()[:1],
            line(2, "Vitamin K", "90", "mcg", form_raw="phylloquinone, menaquinone-7"),
        ],
    )


_define_cases()


@pytest.fixture(scope="module")
def tables(
    validator: Validator, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, pd.DataFrame]:
    labels = [
        Label(SOURCE, i, name, **fields) for i, (name, (fields, _)) in enumerate(CASES.items())
    ]
    rows = [r for _, case_rows in CASES.values() for r in case_rows]
    issues = [ReadIssue(SOURCE, index_of("clean"), 1, None, "page 1: a line could not be read")]
    staged = run_stages(
        tmp_path_factory.mktemp("quality"), labels, rows, issues, validator=validator
    )
    return {"nutrients": staged.nutrients, "products": staged.products, "findings": staged.findings}


def findings_of(tables: dict[str, pd.DataFrame], name: str) -> list[tuple[str, str, str, bool]]:
    products, findings = tables["products"], tables["findings"]
    pid = products.loc[products["label_index"] == index_of(name), "product_id"].item()
    mine = findings[findings["product_id"] == pid]
    assert set(mine["source_file"]) <= {SOURCE}
    return [
        (f["check"], f["severity"], f["detail"], bool(f["blocking"]))
        for f in mine.to_dict("records")
    ]


def test_every_finding_belongs_to_a_product(tables: dict[str, pd.DataFrame]) -> None:
    findings = tables["findings"]
    assert list(findings.columns) == [
        "source_file",
        "product_id",
        "check",
        "severity",
        "detail",
        "blocking",
        "line_no",
    ]
    assert findings["product_id"].isin(tables["products"]["product_id"]).all()


#: (check, severity, detail, blocking) of every finding of a case, in order.
Finding = tuple[str, str, str, bool]
_NO_FORM = "whose form does not tell K1 from K2: the protocol checks cannot use it"
_PER_DAY = '2 serving(s) a day, directions: "2 tablets twice daily with food"'
FINDINGS: dict[str, list[Finding]] = {
    "clean": [("read", "error", "page 1: a line could not be read", False)],
    "dv matches neither": [
        (
            "dv_consistent",
            "warning",
            "Calcium: declared 60% DV for 500 mg, expected 38% (current DV 1,300 mg) "
            "or 50% (older DV 1,000 mg)",
            False,
        )
    ],
    "dv matches older only": [],
    "unknown units": [
        (
            "unit_known",
            "error",
            "line 4: 'Vitamin D3' 25 mkg: unknown unit 'mkg': kept as printed",
            True,
        ),
        (
            "unit_known",
            "warning",
            "line 5: 'Boron' 3 furlongs: unknown unit 'furlongs': kept as printed",
            False,
        ),
    ],
    # a unit finding that blocks
    "vitamin k in iu": [
        (
            "unit_known",
            "error",
            "line 2: 'Vitamin K2' 100 IU: Vitamin K2 is not measured in IU",
            True,
        )
    ],
    "negative amount": [
        ("amount_non_negative", "error", "line 3: 'Magnesium' has a negative amount (-5 mg)", True)
    ],
    "missing amount": [
        ("amount_present", "warning", "line 5: 'Zinc' has no readable amount (printed: mg)", False)
    ],
    "unreadable calcium": [
        (
            "amount_present",
            "error",
            "line 1: 'Calcium' has no readable amount (printed: 5OO mg)",
            True,
        )
    ],
    "two calcium lines": [
        (
            "one_calcium_amount",
            "warning",
            "calcium is declared on 2 lines; their sum (500 mg) is used",
            False,
        )
    ],
    "no serving size": [
        ("serving_size_present", "warning", "the panel states no serving size", False)
    ],
    "above upper limits": [
        (
            "upper_limit",
            "safety",
            f"Calcium: 2,600 mg per day ({_PER_DAY}) is above the adult upper limit of {CA_LIMIT}",
            False,
        ),
        (
            "upper_limit",
            "safety",
            f"Magnesium: 800 mg per day ({_PER_DAY}) is above the adult upper limit of "
            "350 mg/day from supplements",
            False,
        ),
        (
            "upper_limit",
            "safety",
            f"Vitamin D: 250 mcg per day ({_PER_DAY}) is above the adult upper limit of "
            "100 mcg (4000 IU)/day",
            False,
        ),
    ],
    "at upper limits": [],
    "vitamin k of no form": [("vitamin_k_form", "error", f"100 mcg vitamin K {_NO_FORM}", True)],
    "vitamin k naming k1 and k2": [
        ("vitamin_k_form", "error", f"90 mcg vitamin K {_NO_FORM}", True)
    ],
}


def test_every_case_has_its_findings() -> None:
    assert list(FINDINGS) == list(CASES)


@pytest.mark.parametrize("name", list(FINDINGS))
def test_findings_of_each_case(tables: dict[str, pd.DataFrame], name: str) -> None:
    assert findings_of(tables, name) == FINDINGS[name]


def test_dv_matching_the_older_daily_value_only_is_no_finding(
    tables: dict[str, pd.DataFrame],
) -> None:
    nutrients = tables["nutrients"]
    mine = nutrients[nutrients["label_index"] == index_of("dv matches older only")]
    assert mine["dv_consistent"].tolist() == [True, True, True, True]


def test_per_day_amounts_at_the_upper_limits_are_no_finding(
    tables: dict[str, pd.DataFrame],
) -> None:
    products = tables["products"]
    p = products[products["label_index"] == index_of("at upper limits")].iloc[0]
    assert (
        p["servings_per_day"],
        p["calcium_mg_per_day"],
        p["vitamin_d_mcg_per_day"],
        p["magnesium_mg_per_day"],
    ) == (2.0, 2500.0, 100.0, 350.0)


def test_findings_are_ordered_by_product_then_severity(tables: dict[str, pd.DataFrame]) -> None:
    findings = tables["findings"]
    order = {"safety": 0, "error": 1, "warning": 2}
    keys = [
        (p, order[s], c, d)
        for p, s, c, d in zip(
            findings["product_id"],
            findings["severity"],
            findings["check"],
            findings["detail"],
            strict=True,
        )
    ]
    assert keys == sorted(keys)


# ---- the real DSLD labels -----------------------------------------------------------------------


def test_real_dsld_labels_findings(validator: Validator) -> None:
    _, nutrients, products = label_tables(*records_of(dsld_labels()))
    findings, _ = tables_to_findings(
        nutrients, products, records_to_frame([], ReadIssue), validator
    )
    counted = findings.groupby(["check", "severity", "blocking"]).size().to_dict()
    assert counted == {
        ("dv_consistent", "warning", False): 6,
        ("unit_known", "warning", False): 17,  # IU of vitamin A (beta-carotene) and E (mixed)
    }
    # no real label goes above an upper limit per day (the highest: 60 mcg vitamin D, 256299)
    assert products["vitamin_d_mcg_per_day"].max() == 60.0
    d = findings[findings["source_file"] == "dsld/209214.json"]
    assert d["detail"].tolist() == [
        "Vitamin D: declared 200% DV for 25 mcg, expected 125% (current DV 20 mcg) "
        "or 250% (older DV 10 mcg)",
        "line 1: 'Vitamin A' 10000 IU: beta-carotene IU: the conversion is disputed "
        "(0.15 or 0.3 mcg RAE per IU)",
    ]


# ---- score: verdicts and reasons -----------------------------------------------------------------


@pytest.fixture(scope="module")
def scored(validator: Validator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample product with too little K2 (124 mcg per 1,000 mg calcium) and a blocked one."""
    labels = [
        Label(
            "score.csv",
            0,
            "Daily Calcium with K2",
            serving_size="2 Tablets",
            directions="Take 2 tablets daily with food.",
            warnings="Consult your doctor before use if you are taking anticoagulant medication.",
        ),
        Label("score.csv", 1, "Blocked", serving_size="2 Tablets", warnings=WARFARIN),
    ]
    rows = [
        LabelRow("score.csv", 0, 1, "Vitamin D3", "50", "mcg", "250%", "cholecalciferol (D3)"),
        LabelRow("score.csv", 0, 2, "Vitamin K2", "124", "mcg", "103%", "menaquinone-7 from natto"),
        LabelRow("score.csv", 0, 3, "Calcium", "1000", "mg", "77%", "calcium carbonate"),
        LabelRow("score.csv", 0, 4, "Magnesium", "500", "mg", "119%", "magnesium oxide"),
        LabelRow("score.csv", 1, 1, "Calcium", "500", "mg"),
        LabelRow("score.csv", 1, 2, "Vitamin K2", "100", "mkg", form_raw="MK-7"),
    ]
    return score_records(labels, rows, validator)


def test_protocol_outcomes_of_the_sample(scored: dict[str, Any]) -> None:
    outcomes = scored["outcomes"]
    pid = scored["ids"]["Daily Calcium with K2"]
    mine = outcomes[outcomes["product_id"] == pid]
    assert dict(zip(mine["check"], mine["passed"], strict=True)) == {
        "k2_present": True,
        "k2_form": True,
        "k2_ratio": False,
        "ca_mg_ratio": True,
        "vitamin_d": True,
        "anticoagulant_caution": True,
        "fat_guidance": True,
        "k2_isomer": None,  # the label does not say which isomer
    }


def test_reasons_name_the_measured_value_and_the_target(scored: dict[str, Any]) -> None:
    checks = scored["checks"]
    pid = scored["ids"]["Daily Calcium with K2"]
    mine = checks[checks["product_id"] == pid]
    assert list(zip(mine["check"], mine["credit"], mine["detail"], strict=True)) == [
        ("k2_present", 1.0, "124 mcg vitamin K2 per serving; the protocol asks for vitamin K2"),
        ("k2_form", 1.0, "K2 form MK-7; the protocol asks MK-7"),
        (
            "k2_ratio",
            0.62,
            "62 mcg K2 per 500 mg calcium (124 mcg K2 with 1,000 mg calcium); "
            "the protocol asks 100-180",
        ),
        (
            "ca_mg_ratio",
            1.0,
            "calcium:magnesium 2:1 (1,000 mg : 500 mg); the protocol asks 1.5-2.5:1 (target 2:1)",
        ),
        ("vitamin_d", 1.0, "50 mcg vitamin D per serving; the protocol asks for vitamin D"),
        (
            "anticoagulant_caution",
            1.0,
            'the label cautions people on anticoagulants: "Consult your doctor before use if you '
            'are taking anticoagulant medication"',
        ),
        ("fat_guidance", 1.0, 'the label has it taken with fat: "Take 2 tablets daily with food"'),
        ("k2_isomer", 0.0, "the label does not say whether its vitamin K2 is all-trans or cis"),
    ]


def test_verdicts(scored: dict[str, Any]) -> None:
    ranking = scored["ranking"]
    ids = scored["ids"]
    got = {
        r["product_id"]: (r["rank"], r["verdict"], r["score"], r["verdict_reason"])
        for r in ranking.to_dict("records")
    }
    assert got[ids["Daily Calcium with K2"]] == (
        1,
        "partial",
        90.5,
        "misses: K2 per 500 mg calcium",
    )
    rank, verdict, score, reason = got[ids["Blocked"]]
    assert (rank, verdict, reason) == (
        2,
        "not_assessable",
        "a protocol value could not be read reliably: line 2: 'Vitamin K2' 100 mkg: "
        "unknown unit 'mkg': kept as printed",
    )
    assert score is None or pd.isna(score)


def test_quality_columns() -> None:
    """The columns each data-quality suite reads (the frames GX validates hold only these)."""
    from pipeline.expectations import quality_columns

    assert quality_columns("rows") == [
        "amount",
        "is_member",
        "unit_status",
        "has_unit",
        "protocol_amount_confidence",
        "protocol_amount_repaired",
        "dv_consistent",
    ]
    assert quality_columns("products") == [
        "calcium_rows",
        "serving_size",
        "vitamin_k_unresolved_rows",
        "calcium_mg_per_day",
        "vitamin_d_mcg_per_day",
        "magnesium_mg_per_day",
    ]
