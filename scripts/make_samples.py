"""Regenerate the sample label files in data/raw (run: `make samples`).

Real labels from the NIH Dietary Supplement Label Database (tests/data/dsld/labels.json),
plus the sample products of labelgen/products.py, written as the files users have: text
PDFs in several panel layouts, a DSLD export CSV with its ProductOverview.csv, a simple
CSV, a DSLD label JSON, and two bad files. The output is deterministic, so a rerun
changes nothing unless the generators changed.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from labelgen.dsld_formats import write_dsld_csv, write_dsld_json, write_simple_csv
from labelgen.pdf_layouts import render_pdf
from labelgen.products import REPO_DIR, dsld_label, product_label, sample_product

DEFAULT_OUT = REPO_DIR / "data" / "raw"

#: (file under data/raw, layout, labels): each PDF sample and what it shows.
PDF_SAMPLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # a full match: MK-7 120 mcg per 500 mg calcium, Ca:Mg 2:1, D3, warfarin caution, with fat
    ("pdf/bone-matrix-calcium-k2.pdf", "ruled", ("sample-bone-matrix",)),
    # MK-7, but only 62 mcg per 500 mg calcium; names wrap onto two lines
    ("pdf/daily-calcium-with-k2.pdf", "wrapped", ("sample-daily-calcium-k2",)),
    # MK-7 in band but no magnesium; per serving and per day columns
    ("pdf/calcium-k2-softgels.pdf", "two-column", ("sample-k2-calcium-softgel",)),
    # real label: vitamin K1 (phylloquinone) instead of K2
    ("pdf/caldenex-k1.pdf", "whitespace", ("11249",)),
    # real label: MK-4 (menatetrenone), far too little calcium for a ratio
    ("pdf/beyond-tangy-tangerine-mk4.pdf", "no-dv", ("209214",)),
    # real labels, two panels in one PDF: K2 of unstated (cis) form; calcium with no K2
    ("pdf/nikken-bdz-and-calcium-complex.pdf", "multi", ("220964", "200743")),
    # real label: an antacid with calcium, no K2; the panel sits on page 2 after a cover
    ("pdf/acid-comfort-brochure.pdf", "embedded", ("6775",)),
)


def _label(label_id: str) -> dict[str, object]:
    return product_label(label_id)


def write_no_panel_pdf(path: Path) -> None:
    """A marketing flyer: a real PDF with text, but no Supplement Facts panel."""
    pdf = canvas.Canvas(str(path), pagesize=letter, invariant=1)
    y = 720.0
    for line in (
        "Spring Wellness Catalogue",
        "Discover our bone health range: calcium, magnesium and vitamin K2.",
        "Ask your pharmacist about the right supplement for you.",
        "Free shipping on orders over $50.",
    ):
        pdf.drawString(72, y, line)
        y -= 20
    pdf.showPage()
    pdf.save()


def write_corrupt_pdf(path: Path) -> None:
    """A PDF cut short in transfer: the header is there, the body is not."""
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Ty"
    )


def make_samples(out: Path) -> list[Path]:
    if out.exists():
        shutil.rmtree(out)
    written: list[Path] = []
    for name, layout, ids in PDF_SAMPLES:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        render_pdf([_label(i) for i in ids], path, layout)
        written.append(path)
    export = out / "csv" / "dsld-export"
    export.mkdir(parents=True)
    written.append(
        write_dsld_csv(
            [dsld_label("37499"), dsld_label("277758")],
            export / "DietarySupplementFacts.csv",
            export / "ProductOverview.csv",
        )
    )
    written.append(export / "ProductOverview.csv")
    written.append(
        write_simple_csv(
            [sample_product("sample-k2-only"), dsld_label("11264")],
            out / "csv" / "simple-layout.csv",
        )
    )
    (out / "json").mkdir()
    written.append(
        write_dsld_json(dsld_label("11243"), out / "json" / "dsld-11243-mega-daily-4-for-men.json")
    )
    (out / "bad").mkdir()
    write_corrupt_pdf(out / "bad" / "truncated-download.pdf")
    write_no_panel_pdf(out / "bad" / "spring-catalogue-no-panel.pdf")
    written += [
        out / "bad" / "truncated-download.pdf",
        out / "bad" / "spring-catalogue-no-panel.pdf",
    ]
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to (re)write")
    args = parser.parse_args()
    for path in make_samples(args.out):
        print(path.relative_to(args.out))


if __name__ == "__main__":
    main()
