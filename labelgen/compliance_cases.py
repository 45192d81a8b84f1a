"""Label PDFs that follow, or break one of, the compliance rules (pipeline.compliance).

`CLEAN` is a Supplement Facts panel that follows every rule: heading, serving size and
servings per container, vitamin D in mcg with IU in parentheses, a %DV on every nutrient
with a Daily Value (2016 values), "*" on the ingredients without one, the regulation's
order, no zero line, a proprietary blend with its weight, and both footnotes ("Percent Daily
Values are based on a 2,000 calorie diet" for the total carbohydrate %DV, "Daily Value not
established" for the symbols). `CASES` maps each rule to a copy of it that breaks that rule
alone; `render_case` draws a label as a one-page PDF (whitespace-aligned columns, the
layout pipeline.panel reads).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Line:
    name: str
    amount: str = ""  # as printed: "500 mg", "25 mcg (1,000 IU)"; "" for a blend member
    dv: str = ""  # as printed: "38%", "*", ""
    indent: bool = False  # a blend member


@dataclass(frozen=True)
class CaseLabel:
    title: str
    lines: tuple[Line, ...]
    heading: str = "Supplement Facts"
    serving_size: str | None = "2 Capsules"
    servings_per_container: str | None = "30"
    footnotes: tuple[str, ...] = (
        "*Percent Daily Values are based on a 2,000 calorie diet.",
        "** Daily Value not established.",
    )
    other: str = "Hypromellose, rice flour."
    directions: str = "Take 2 capsules daily with a meal."
    extra: dict[str, str] = field(default_factory=dict)


CLEAN_LINES: tuple[Line, ...] = (
    Line("Total Carbohydrate", "1 g", "<1%*"),
    Line("Vitamin D (as cholecalciferol)", "25 mcg (1,000 IU)", "125%"),
    Line("Vitamin K2 (as menaquinone-7)", "120 mcg", "100%"),
    Line("Calcium (as calcium citrate)", "500 mg", "38%"),
    Line("Magnesium (as magnesium glycinate)", "210 mg", "50%"),
    Line("Proprietary Blend", "150 mg", "**"),
    Line("Turmeric root", indent=True),
    Line("Ginger root", indent=True),
    Line("Boron (as boron citrate)", "3 mg", "**"),
)

CLEAN = CaseLabel("Clean Bone Formula", CLEAN_LINES)


def _replace(lines: tuple[Line, ...], name: str, **changes: str) -> tuple[Line, ...]:
    return tuple(
        dataclasses.replace(line, **changes) if line.name.startswith(name) else line
        for line in lines
    )


def _without(lines: tuple[Line, ...], name: str) -> tuple[Line, ...]:
    return tuple(line for line in lines if not line.name.startswith(name))


def _swap(lines: tuple[Line, ...], first: str, second: str) -> tuple[Line, ...]:
    out = list(lines)
    i = next(n for n, line in enumerate(out) if line.name.startswith(first))
    j = next(n for n, line in enumerate(out) if line.name.startswith(second))
    out[i], out[j] = out[j], out[i]
    return tuple(out)


def _case(title: str, **changes: object) -> CaseLabel:
    return dataclasses.replace(CLEAN, title=title, **changes)  # type: ignore[arg-type]


_ZINC = Line("Zinc (as zinc citrate)", "0 mg", "0%")

#: Rule name -> a label that breaks that rule (and follows the others).
CASES: dict[str, CaseLabel] = {
    "heading": _case("Nutrition Headed Formula", heading="Nutrition Facts"),
    "serving_size": _case("No Serving Size Formula", serving_size=None),
    "servings_per_container": _case("No Servings Formula", servings_per_container=None),
    "units": _case(
        "IU Vitamin D Formula", lines=_replace(CLEAN_LINES, "Vitamin D", amount="1,000 IU")
    ),
    "dv_declared": _case("Missing DV Formula", lines=_replace(CLEAN_LINES, "Magnesium", dv="")),
    "dv_2016": _case("Old DV Formula", lines=_replace(CLEAN_LINES, "Calcium", dv="50%")),
    "no_dv_symbol": _case("No Symbol Formula", lines=_replace(CLEAN_LINES, "Boron", dv="")),
    "dv_not_established_footnote": _case("No Footnote Formula", footnotes=(CLEAN.footnotes[0],)),
    "order": _case("Out Of Order Formula", lines=_swap(CLEAN_LINES, "Calcium", "Magnesium")),
    "zero": _case(
        "Zero Zinc Formula",
        lines=(*CLEAN_LINES[:5], _ZINC, *CLEAN_LINES[5:]),
    ),
    "blend": _case(
        "Weightless Blend Formula", lines=_replace(CLEAN_LINES, "Proprietary Blend", amount="")
    ),
    "calorie_footnote": _case("No Calorie Note Formula", footnotes=(CLEAN.footnotes[1],)),
}


def render_case(label: CaseLabel, path: Path) -> Path:
    """The label as a one-page PDF: title, panel, footnotes, then the label text."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = canvas.Canvas(str(path), pagesize=letter)
    left, amount_right, dv_right = 72.0, 330.0, 400.0
    y = 720.0
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(left, y, label.title)
    y -= 34
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(left, y, label.heading)
    y -= 18
    pdf.setFont("Helvetica", 9)
    if label.serving_size:
        pdf.drawString(left, y, f"Serving Size {label.serving_size}")
        y -= 12
    if label.servings_per_container:
        pdf.drawString(left, y, f"Servings Per Container {label.servings_per_container}")
        y -= 12
    y -= 4
    pdf.setFont("Helvetica-Bold", 9)
    pdf.drawRightString(amount_right, y, "Amount Per Serving")
    pdf.drawRightString(dv_right, y, "% Daily Value")
    y -= 14
    pdf.setFont("Helvetica", 9)
    for line in label.lines:
        pdf.drawString(left + (12 if line.indent else 0), y, line.name)
        if line.amount:
            pdf.drawRightString(amount_right, y, line.amount)
        if line.dv:
            pdf.drawRightString(dv_right, y, line.dv)
        y -= 12
    y -= 4
    pdf.setFont("Helvetica", 7)
    for note in label.footnotes:
        pdf.drawString(left, y, note)
        y -= 10
    y -= 10
    pdf.setFont("Helvetica", 9)
    pdf.drawString(left, y, f"Other ingredients: {label.other}")
    y -= 12
    pdf.drawString(left, y, f"Suggested use: {label.directions}")
    pdf.showPage()
    pdf.save()
    return path


def write_cases(out_dir: Path) -> dict[str, Path]:
    """CLEAN as clean.pdf and each case as <rule>.pdf under `out_dir`."""
    paths = {"clean": render_case(CLEAN, out_dir / "clean.pdf")}
    for rule, label in CASES.items():
        paths[rule] = render_case(label, out_dir / f"{rule}.pdf")
    return paths
