"""The labels the samples and tests are built from: real DSLD labels plus sample products.

Real labels come from tests/data/dsld/labels.json (NIH Dietary Supplement Label Database,
US public data). No real label in that set follows the whole protocol, so a few sample
products, written in the same shape, cover what is missing: a full match, a product with
too little K2 for its calcium, and one with no magnesium. Their ids start with "sample-".
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
DSLD_LABELS_FILE = REPO_DIR / "tests" / "data" / "dsld" / "labels.json"

Label = dict[str, Any]


@cache
def _dsld_labels() -> tuple[Label, ...]:
    return tuple(json.loads(DSLD_LABELS_FILE.read_text(encoding="utf-8")))


def dsld_labels() -> list[Label]:
    """All 163 real labels (deep copies: callers may change them)."""
    return copy.deepcopy(list(_dsld_labels()))


def dsld_label(dsld_id: str) -> Label:
    for label in _dsld_labels():
        if label["dsld_id"] == dsld_id:
            return copy.deepcopy(label)
    raise KeyError(dsld_id)


def ingredient(
    order: int,
    name: str,
    group: str,
    quantity: float,
    unit: str,
    dv: float | None,
    forms: list[str] | None = None,
    nested_in: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One ingredient in the reduced DSLD shape (`extra`: generator hints such as amount_text)."""
    return {
        "order": order,
        "name": name,
        "ingredient_group": group,
        "quantity": quantity,
        "unit": unit,
        "daily_value_percent": dv,
        "forms": forms or ["unspecified"],
        "nested_in": nested_in,
        **extra,
    }


def _statements(directions: str, *warnings: str) -> list[dict[str, str]]:
    out = [{"type": "Suggested/Recommended/Usage/Directions", "text": directions}]
    out += [{"type": "Precautions re: All Other", "text": w} for w in warnings]
    return out


WARFARIN = (
    "Caution: If you take warfarin (Coumadin) or any other anticoagulant or blood-thinning "
    "medication, consult your physician before using this product."
)
CHILDREN = "Keep out of reach of children."

SAMPLE_PRODUCTS: tuple[Label, ...] = (
    {
        "dsld_id": "sample-bone-matrix",
        "product_name": "Bone Matrix Calcium + K2",
        "brand": "Northfield Labs",
        "net_contents": "120 Capsule(s)",
        "servings_per_container": 60,
        "serving_sizes": [
            {
                "quantity": 2.0,
                "unit": "Capsule(s)",
                "min_daily_servings": 1,
                "max_daily_servings": 1,
            }
        ],
        "ingredients": [
            ingredient(1, "Vitamin D3", "Vitamin D", 25.0, "mcg", 125.0, ["cholecalciferol (D3)"]),
            ingredient(
                2, "Vitamin K2", "Vitamin K", 120.0, "mcg", 100.0, ["menaquinone-7 (MenaQ7)"]
            ),
            ingredient(3, "Calcium", "Calcium", 500.0, "mg", 38.0, ["calcium citrate"]),
            ingredient(4, "Magnesium", "Magnesium", 250.0, "mg", 60.0, ["magnesium glycinate"]),
        ],
        "other_ingredients": ["Hypromellose", "Olive Oil", "Rice Flour"],
        "statements": _statements(
            "Take 2 capsules daily with a meal that contains fat.", WARFARIN, CHILDREN
        ),
    },
    {
        "dsld_id": "sample-daily-calcium-k2",
        "product_name": "Daily Calcium with K2",
        "brand": "Harbor Wellness",
        "net_contents": "90 Tablet(s)",
        "servings_per_container": 45,
        "serving_sizes": [
            {"quantity": 2.0, "unit": "Tablet(s)", "min_daily_servings": 1, "max_daily_servings": 1}
        ],
        "ingredients": [
            ingredient(1, "Vitamin D3", "Vitamin D", 50.0, "mcg", 250.0, ["cholecalciferol (D3)"]),
            ingredient(
                2, "Vitamin K2", "Vitamin K", 124.0, "mcg", 103.0, ["menaquinone-7 from natto"]
            ),
            ingredient(3, "Calcium", "Calcium", 1000.0, "mg", 77.0, ["calcium carbonate"]),
            ingredient(4, "Magnesium", "Magnesium", 500.0, "mg", 119.0, ["magnesium oxide"]),
        ],
        "other_ingredients": ["Microcrystalline Cellulose", "Croscarmellose Sodium"],
        "statements": _statements(
            "Take 2 tablets daily with food.",
            "Consult your doctor before use if you are taking anticoagulant medication.",
            CHILDREN,
        ),
    },
    {
        "dsld_id": "sample-k2-calcium-softgel",
        "product_name": "Calcium K2 Softgels",
        "brand": "Cedar Grove",
        "net_contents": "60 Softgel(s)",
        "servings_per_container": 30,
        "serving_sizes": [
            {
                "quantity": 2.0,
                "unit": "Softgel(s)",
                "min_daily_servings": 1,
                "max_daily_servings": 1,
            }
        ],
        "ingredients": [
            ingredient(1, "Vitamin D3", "Vitamin D", 20.0, "mcg", 100.0, ["cholecalciferol (D3)"]),
            ingredient(2, "Vitamin K2", "Vitamin K", 150.0, "mcg", 125.0, ["MK-7"]),
            ingredient(3, "Calcium", "Calcium", 600.0, "mg", 46.0, ["calcium citrate"]),
        ],
        "other_ingredients": ["Gelatin", "Sunflower Oil", "Glycerin"],
        "statements": _statements(
            "Take 2 softgels daily with a meal.",
            "Do not use if you are taking warfarin without medical supervision.",
            CHILDREN,
        ),
    },
    {
        "dsld_id": "sample-k2-only",
        "product_name": "K2 MK-7 100",
        "brand": "Cedar Grove",
        "net_contents": "60 Softgel(s)",
        "servings_per_container": 60,
        "serving_sizes": [
            {
                "quantity": 1.0,
                "unit": "Softgel(s)",
                "min_daily_servings": 1,
                "max_daily_servings": 1,
            }
        ],
        "ingredients": [
            ingredient(1, "Vitamin K2", "Vitamin K", 100.0, "mcg", 83.0, ["menaquinone-7"]),
        ],
        "other_ingredients": ["Olive Oil", "Gelatin"],
        "statements": _statements("Take 1 softgel daily with a meal.", WARFARIN),
    },
)


def sample_product(dsld_id: str) -> Label:
    for label in SAMPLE_PRODUCTS:
        if label["dsld_id"] == dsld_id:
            return copy.deepcopy(label)
    raise KeyError(dsld_id)


def product_label(label_id: str) -> Label:
    """A sample product ("sample-..." ids) or a real DSLD label, by its id."""
    return sample_product(label_id) if label_id.startswith("sample-") else dsld_label(label_id)
