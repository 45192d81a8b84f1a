"""A synthetic audit document of N products, for the report stage at catalog scale.

The products are built the way a run builds them (pipeline.document.product_docs over
Arrow tables of products, checks and label rows), with DSLD-style names, brands, source
files inside a DSLD zip, seven checks and twelve label rows each, and findings for some
of them. Extraction is not run: this measures the report stage alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.document import EXTRA_FIELDS, PRODUCT_FIELDS, ROW_FIELDS, product_docs
from pipeline.protocol import CHECKS

EXAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "audit_example.json"
WORDS = [
    "Bone",
    "Matrix",
    "Advanced",
    "Cal",
    "Mag",
    "Plus",
    "Ultra",
    "Daily",
    "Complete",
    "Osteo",
    "Strong",
    "Pure",
    "Whole",
    "Food",
    "Chewable",
    "Citrate",
    "Coral",
    "Marine",
    "Plant",
    "Algae",
    "Joint",
    "Formula",
    "Women's",
    "Men's",
    "Senior",
    "Kids",
]
BRANDS = [f"{a} {b}" for a in WORDS[:20] for b in ("Labs", "Naturals", "Health", "Nutrition")]
#: (name, form, unit, nutrient) of the label rows each product has, in order.
ROWS = [
    ("Vitamin D3", "cholecalciferol", "mcg", "vitamin_d"),
    ("Vitamin K2", "menaquinone-7 (MenaQ7)", "mcg", "vitamin_k2"),
    ("Calcium", "calcium citrate", "mg", "calcium"),
    ("Magnesium", "magnesium glycinate", "mg", "magnesium"),
    ("Vitamin C", "ascorbic acid", "mg", "vitamin_c"),
    ("Zinc", "zinc oxide", "mg", "zinc"),
    ("Boron", "boron glycinate", "mg", "boron"),
    ("Silica", "horsetail extract", "mg", None),
    ("Manganese", "manganese citrate", "mg", "manganese"),
    ("Copper", "copper gluconate", "mcg", "copper"),
    ("Vitamin B12", "methylcobalamin", "mcg", "vitamin_b12"),
    ("Folate", "L-methylfolate", "mcg DFE", "folate"),
]
VERDICT_ORDER = ["matches", "partial", "fails", "not_assessable"]


def _slug(name: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in name.lower())
    return "-".join(part for part in out.split("-") if part)[:40] or "product"


def _products(n: int, rng: np.random.Generator) -> pd.DataFrame:
    words = np.array(WORDS)
    picks = rng.integers(0, len(words), size=(n, 3))
    names = [
        f"{words[a]} {words[b]} {words[c]} Calcium + K2 {i}"
        for i, (a, b, c) in enumerate(picks.tolist())
    ]
    files = [f"DSLD-full-database-JSON.zip!DSLD/{100000 + i}.json" for i in range(n)]
    ids = [
        _slug(name) + "-" + hashlib.sha1(f"{f}\n{name}".encode()).hexdigest()[:8]
        for f, name in zip(files, names, strict=True)
    ]
    calcium = rng.choice(
        [250.0, 500.0, 600.0, 1000.0, np.nan], size=n, p=[0.2, 0.4, 0.2, 0.15, 0.05]
    )
    magnesium = np.where(rng.random(n) < 0.2, np.nan, calcium / rng.uniform(1.0, 3.5, n))
    k2 = np.where(rng.random(n) < 0.15, np.nan, rng.lognormal(np.log(100.0), 0.6, n))
    frame = pd.DataFrame(
        {
            "product_id": ids,
            "source_file": files,
            "product_name": names,
            "brand": [BRANDS[i] for i in rng.integers(0, len(BRANDS), n)],
            "serving_size": "2 Capsules",
            "calcium_mg": calcium,
            "magnesium_mg": magnesium,
            "vitamin_d_mcg": 25.0,
            "vitamin_k1_mcg": np.nan,
            "vitamin_k2_mcg": k2,
            "k2_form": rng.choice(["MK-7", "MK-4", "mixed", "unspecified"], size=n),
            "k2_mcg_per_500mg_ca": k2 / calcium * 500.0,
            "ca_to_mg_ratio": calcium / magnesium,
            "source_format": "dsld_json",
            "ocr_confidence": np.nan,
            "servings_per_day": 1.0,
            "servings_per_day_source": 'directions: "Take 2 capsules daily"',
            "calcium_mg_per_day": calcium,
            "magnesium_mg_per_day": magnesium,
            "vitamin_d_mcg_per_day": 25.0,
            "directions": "Take 2 capsules daily with a meal that contains fat.",
            "warnings": "Caution: if you take warfarin or another anticoagulant, ask your doctor.",
            "other_ingredients": "Hypromellose (capsule), rice flour, magnesium stearate.",
            "amount_columns": None,
            "label_index": None,
        }
    )
    score = np.round(rng.uniform(0.0, 100.0, n), 1)
    verdict = np.where(score >= 90, "matches", np.where(score >= 50, "partial", "fails"))
    verdict = np.where(np.isnan(calcium), "not_assessable", verdict)
    frame["score"] = np.where(np.isnan(calcium), np.nan, score)
    frame["verdict"] = verdict
    frame["verdict_reason"] = np.where(
        np.isnan(calcium), "the label has no calcium amount", "score from the protocol checks"
    )
    frame["_v"] = [VERDICT_ORDER.index(v) for v in verdict]
    frame = frame.sort_values(["_v", "score", "product_name"], ascending=[True, False, True])
    frame = frame.drop(columns="_v").reset_index(drop=True)
    frame["rank"] = np.arange(1, n + 1)
    return frame


def _checks(ids: list[str], rng: np.random.Generator) -> pa.Table:
    n, names = len(ids), list(CHECKS)
    weights = ([15, 20, 25, 15, 10, 10, 5] * 2)[: len(names)]  # one a check, whatever their number
    passed = rng.choice([True, False, None], size=n * len(names), p=[0.6, 0.3, 0.1])
    return pa.table(
        {
            "product_id": pa.array(np.repeat(np.array(ids, dtype=object), len(names))),
            "check": pa.array(np.tile(np.array(names, dtype=object), n)),
            "label": pa.array(np.tile(np.array(list(CHECKS.values()), dtype=object), n)),
            "passed": pa.array(passed.tolist(), pa.bool_()),
            "credit": pa.array(np.where(passed == True, 1.0, 0.0)),  # noqa: E712
            "weight": pa.array(np.tile(weights[: len(names)], n)),
            "points": pa.array(np.tile([float(w) for w in weights[: len(names)]], n)),
            "detail": pa.array(
                np.tile(np.array([f"the protocol asks for {c}" for c in names], dtype=object), n)
            ),
        }
    )


def _rows(ids: list[str], rng: np.random.Generator) -> pa.Table:
    n, k = len(ids), len(ROWS)

    def column(position: int) -> pa.Array:
        return pa.array(np.tile(np.array([r[position] for r in ROWS], dtype=object), n))

    amounts = np.round(rng.uniform(1.0, 600.0, n * k), 1)
    amount_text = pa.array([f"{a:g}" for a in amounts.tolist()])
    raw = pa.array(
        [
            f"{ROWS[i % k][0]} (as {ROWS[i % k][1]}) {a:g} {ROWS[i % k][2]}"
            for i, a in enumerate(amounts.tolist())
        ]
    )
    empty = pa.nulls(n * k, pa.string())
    data: dict[str, Any] = {
        "product_id": pa.array(np.repeat(np.array(ids, dtype=object), k)),
        "line_no": pa.array(np.tile(np.arange(1, k + 1), n)),
        "page": pa.nulls(n * k, pa.int64()),
        "name_raw": column(0),
        "form_raw": column(1),
        "parent": empty,
        "amount_raw": amount_text,
        "unit_raw": column(2),
        "dv_raw": pa.array(np.tile(np.array(["100%"] * k, dtype=object), n)),
        "amount_alt_raw": empty,
        "unit_alt_raw": empty,
        "alt_amounts_raw": empty,
        "raw_text": raw,
        "nutrient": column(3),
        "k2_form": empty,
        "amount_normalized": pa.array(amounts),
        "unit_normalized": column(2),
        "unit_status": pa.array(np.tile(np.array(["ok"] * k, dtype=object), n)),
        "unit_note": empty,
        "confidence": pa.nulls(n * k, pa.float64()),
        "repairs": empty,
    }
    # where a row was read and its review: none here (a JSON label has no boxes)
    kinds = {name: pa.float64() for name in ("bbox_x0", "bbox_top", "bbox_x1", "bbox_bottom")}
    for name in ROW_FIELDS:
        data.setdefault(name, pa.nulls(n * k, kinds.get(name, pa.string())))
    return pa.table({name: data[name] for name in ["product_id", *ROW_FIELDS]})


def synthetic_audit(n: int, seed: int = 16) -> dict[str, Any]:
    """An audit document of `n` products, as pipeline.document.build_audit gives it."""
    rng = np.random.default_rng(seed)
    frame = _products(n, rng)
    ids = frame["product_id"].tolist()
    products = pa.Table.from_pandas(
        frame[["product_id", *[f for f in PRODUCT_FIELDS if f != "product_id"], *EXTRA_FIELDS]],
        preserve_index=False,
    )
    ranking = frame[["product_id", "rank", "score", "verdict", "verdict_reason"]]
    docs = product_docs(products, ranking, _checks(ids, rng), _rows(ids, rng))
    audit: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    flagged = frame.iloc[::10]
    audit["labels_dir"] = "dsld"
    audit["summary"].update(
        files=n,
        products=n,
        verdicts={v: int((frame["verdict"] == v).sum()) for v in VERDICT_ORDER},
        data_quality_findings=len(flagged),
        compliance_findings=len(flagged),
    )
    audit["changes"] = {
        "added": [
            {"product_id": p, "product_name": m, "source_file": f}
            for p, m, f in zip(ids, frame["product_name"], frame["source_file"], strict=True)
        ],
        "removed": [],
        "verdict_changed": [],
    }
    audit["products"] = docs
    finding = {"check": "dv_consistent", "severity": "warning", "detail": "line 5 Vitamin C: %DV"}
    audit["data_quality"] = [
        {"source_file": f, "product_id": p, **finding}
        for p, f in zip(flagged["product_id"], flagged["source_file"], strict=True)
    ]
    rule = {"rule": "units", "citation": "21 CFR 101.9(c)(8)(iv)", "severity": "error"}
    audit["compliance"] = [
        {"source_file": f, "product_id": p, **rule, "detail": "line 1 'Vitamin D3': 900 IU"}
        for p, f in zip(flagged["product_id"], flagged["source_file"], strict=True)
    ]
    return audit
