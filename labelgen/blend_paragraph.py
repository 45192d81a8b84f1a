"""Blend members printed as a paragraph (the `members` option of labelgen.pdf_layouts).

Real panels often print a blend's members that have no amount of their own as one
comma-separated paragraph under the blend's total, set at the leading of a wrapped name
(closer than the rows), wrapped wherever the width ends, mid-member too ("... Cinnamon" /
"(Bark), Gymnema, ..."), and running under the value columns:

    Proprietary Blend                              415 mg   *
    Guggul (Resin), Bitter Melon (Fruit), Licorice (Root), Cinnamon
    (Bark), Gymnema, Alpha Lipoic Acid

`MEMBER_STYLES`: "rows" (one member a row, indented: the layouts' default), "paragraph"
(the paragraph flush with the blend's name) and "paragraph-indented" (indented as the
member rows are). Members with an amount of their own stay rows. What is printed reads
back as the same rows (`PrintedRow`), so the truth does not change with the style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reportlab.lib.utils import simpleSplit

if TYPE_CHECKING:
    from labelgen.pdf_layouts import PrintedRow, _Doc, _Geometry

MEMBER_STYLES: tuple[str, ...] = ("rows", "paragraph", "paragraph-indented")


@dataclass(frozen=True)
class MemberParagraph:
    """Consecutive members of one blend printed without amounts, as one paragraph."""

    rows: tuple[PrintedRow, ...]

    @property
    def text(self) -> str:
        return ", ".join(r.printed_name for r in self.rows)

    @property
    def depth(self) -> int:
        return self.rows[0].depth


def panel_items(rows: Sequence[PrintedRow], members: str) -> list[PrintedRow | MemberParagraph]:
    """The rows as printed in `members` style: runs of a blend's members without amounts
    joined into one `MemberParagraph` (unless the style is "rows")."""
    if members not in MEMBER_STYLES:
        raise ValueError(f"unknown members style {members!r}; one of {', '.join(MEMBER_STYLES)}")
    if members == "rows":
        return list(rows)
    out: list[PrintedRow | MemberParagraph] = []
    for row in rows:
        last = out[-1] if out else None
        if row.parent is None or row.amount_raw is not None:
            out.append(row)
        elif isinstance(last, MemberParagraph) and last.rows[0].parent == row.parent:
            out[-1] = MemberParagraph((*last.rows, row))
        else:
            out.append(MemberParagraph((row,)))
    return out


def draw_paragraph(
    doc: _Doc, para: MemberParagraph, g: _Geometry, members: str, font: str, size: float
) -> None:
    """Draw `para` under the row above at the wrapped-line leading, under the value
    columns too (to the right edge of the last one); the next row follows a row's pitch
    below its last line."""
    depth = para.depth if members == "paragraph-indented" else para.depth - 1
    x = g.x + g.indent * depth
    edges = [g.dv_x, g.alt_x, g.dv_alt_x, g.amount_x if g.amount_align == "right" else None]
    right = max(e for e in edges if e is not None)
    lines = simpleSplit(para.text, font, size, right - x)
    doc.y += g.pitch - g.leading  # close under the blend's total
    for line in lines:
        doc.text(x, line, font, size)
        doc.y -= g.leading
    doc.y -= g.pitch - g.leading
    if g.ruled:
        doc.c.setLineWidth(0.4)
        doc.c.line(g.x, doc.y + g.pitch - 3, g.x + g.width, doc.y + g.pitch - 3)
