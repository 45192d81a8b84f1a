"""A small audit document for the catalog-scale report tests: the example's products plus
numbered copies (one with a hostile name), in rank order."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent / "data" / "audit_example.json"
HOSTILE = "Evil </script><img src=x onerror=alert(2)> & \"Co\" 'K2'"


def catalog_audit(copies: int = 4) -> dict[str, Any]:
    """The example (3 products) plus `copies` copies of its first product, named
    "Copy N" (copy 2 is named HOSTILE, copy 3 is a fails with brand "Zed") right after
    it; ranks follow the list's order."""
    audit: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    base = audit["products"][0]
    for n in range(1, copies + 1):
        product = copy.deepcopy(base)
        product.update(
            product_id=f"copy-{n}-0000000{n}",
            source_file=f"dsld.zip!DSLD/{n}.json",
            product_name=HOSTILE if n == 2 else f"Copy {n}",
            score=95.0 - n,
        )
        if n == 3:
            product.update(verdict="fails", brand="Zed", score=10.0)
        audit["products"].insert(n, product)
    products = audit["products"]
    audit["products"] = [{**p, "rank": rank} for rank, p in enumerate(products, start=1)]
    counts = Counter(p["verdict"] for p in products)
    audit["summary"].update(
        products=len(products), verdicts={v: counts[v] for v in audit["summary"]["verdicts"]}
    )
    return audit
