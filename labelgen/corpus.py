"""A corpus of PDF labels with known content, to measure the PDF reader (dev only).

`build_corpus` renders real DSLD labels in every layout of labelgen.pdf_layouts and
writes beside each PDF a `<name>.truth.json` with what was printed. `score_corpus`
reads every PDF back with pipeline.sources.pdf.read_pdf and compares field by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgen.pdf_layouts import LAYOUTS, render_pdf_with_truth, write_truth
from labelgen.products import SAMPLE_PRODUCTS, dsld_labels

#: Ingredient groups of the protocol rows.
PROTOCOL_GROUPS = ("Calcium", "Magnesium", "Vitamin D", "Vitamin K")
#: How many labels without a protocol nutrient join the default corpus.
OTHERS = 20
#: Labels per PDF in the "multi" layout.
MULTI_SIZE = 3


def _has_protocol(label: dict[str, Any]) -> bool:
    return any(i.get("ingredient_group") in PROTOCOL_GROUPS for i in label["ingredients"])


def default_labels() -> list[dict[str, Any]]:
    """Every DSLD label with calcium, magnesium, vitamin D or K, the sample products,
    and the first OTHERS other labels (by DSLD order)."""
    labels = dsld_labels()
    protocol = [label for label in labels if _has_protocol(label)]
    others = [label for label in labels if not _has_protocol(label)][:OTHERS]
    return [dict(p) for p in SAMPLE_PRODUCTS] + protocol + others


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def build_corpus(out_dir: Path, labels: list[dict[str, Any]] | None = None) -> list[Path]:
    """Render `labels` (default: `default_labels()`) in every layout into `out_dir`.

    One PDF per label and layout ("multi": MULTI_SIZE labels per PDF), each with a
    `<name>.truth.json` beside it. Returns the PDF paths.
    """
    labels = default_labels() if labels is None else labels
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for layout in LAYOUTS:
        if layout == "multi":
            groups = [labels[i : i + MULTI_SIZE] for i in range(0, len(labels), MULTI_SIZE)]
        else:
            groups = [[label] for label in labels]
        for group in groups:
            ids = "+".join(_safe(str(label["dsld_id"])) for label in group)
            path = out_dir / f"{layout}_{ids}.pdf"
            printed = render_pdf_with_truth(group, path, layout)
            write_truth(printed, path.with_suffix(".truth.json"))
            paths.append(path)
    return paths


@dataclass
class Score:
    """Matching fields over expected fields, overall and for the protocol rows."""

    fields: int = 0
    matched: int = 0
    protocol_fields: int = 0
    protocol_matched: int = 0
    other_fields: int = 0  # product names and blend parents
    other_matched: int = 0
    mismatches: list[str] = field(default_factory=list)
    issues: int = 0
    rejected: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.matched / self.fields if self.fields else 0.0

    @property
    def other_accuracy(self) -> float:
        return self.other_matched / self.other_fields if self.other_fields else 0.0

    @property
    def protocol_accuracy(self) -> float:
        return self.protocol_matched / self.protocol_fields if self.protocol_fields else 0.0


ALL_FIELDS = ("name_raw", "amount_raw", "unit_raw", "form_raw")
PROTOCOL_FIELDS = ("amount_raw", "unit_raw", "form_raw")


def score_corpus(paths: list[Path]) -> Score:
    """Read every PDF and compare with its truth file, row by row in printed order.

    A printed row the reader missed counts every one of its fields as wrong; so does a
    product name read wrong (one field per label).
    """
    from pipeline.errors import LabelError
    from pipeline.sources.pdf import read_pdf

    score = Score()
    for path in paths:
        truth = json.loads(path.with_suffix(".truth.json").read_text("utf-8"))["labels"]
        try:
            got = read_pdf(path, path.name)
        except LabelError as exc:
            score.rejected.append(f"{path.name}: {exc.reason}")
            got_labels: list[Any] = []
            got_rows: list[Any] = []
        else:
            got_labels = list(got.labels)
            got_rows = list(got.rows)
            score.issues += len(got.issues)
        for index, expected in enumerate(truth):
            label = got_labels[index] if index < len(got_labels) else None
            score.other_fields += 1
            if label is not None and label.product_name == expected["product_name"]:
                score.other_matched += 1
            else:
                name = label.product_name if label else None
                score.mismatches.append(
                    f"{path.name} label {index}: product_name {name!r} != "
                    f"{expected['product_name']!r}"
                )
            rows = [r for r in got_rows if r.label_index == index]
            for k, exp in enumerate(expected["rows"]):
                row = rows[k] if k < len(rows) else None
                protocol = exp["group"] in PROTOCOL_GROUPS
                for name in (*ALL_FIELDS, "parent"):
                    want = exp[name]
                    have = getattr(row, name) if row is not None else "<missing row>"
                    ok = want == have
                    if name in ALL_FIELDS:
                        score.fields += 1
                        score.matched += ok
                    else:
                        score.other_fields += 1
                        score.other_matched += ok
                    if protocol and name in PROTOCOL_FIELDS:
                        score.protocol_fields += 1
                        score.protocol_matched += ok
                    if not ok:
                        score.mismatches.append(
                            f"{path.name} label {index} row {k + 1} {name}: {have!r} != {want!r}"
                        )
            if len(rows) > len(expected["rows"]):
                score.mismatches.append(
                    f"{path.name} label {index}: {len(rows) - len(expected['rows'])} extra rows"
                )
    return score
