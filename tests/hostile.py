"""Hostile label files for the tests, built by hand (nothing copied from outside the repo)."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "raw"
GOOD_PDF = SAMPLES / "pdf" / "bone-matrix-calcium-k2.pdf"


def raw_pdf(pages: list[tuple[float, float, bytes, bool]]) -> bytes:
    """A minimal PDF: one page per (width pt, height pt, content stream, flate-encoded)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for i, (width, height, stream, flate) in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:g} {height:g}] "
            f"/Contents {4 + 2 * i} 0 R /Resources << >> >>".encode()
        )
        extra = b" /Filter /FlateDecode" if flate else b""
        objects.append(
            b"<< /Length %d%s >>\nstream\n" % (len(stream), extra) + stream + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def flate_bomb(inflated_mb: int) -> bytes:
    """A content stream of `inflated_mb` MB of spaces, flate-compressed (~1,000 : 1)."""
    packer = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    return b"".join([*(packer.compress(chunk) for _ in range(inflated_mb)), packer.flush()])


def simple_csv(name: str, calcium_mg: int = 500) -> str:
    return (
        "product_name,ingredient,amount,unit\n"
        f"{name},Calcium,{calcium_mg},mg\n"
        f"{name},Vitamin K2 (as MK-7),100,mcg\n"
    )


def good_folder(folder: Path) -> Path:
    """Three good label files: a PDF, a simple CSV and a DSLD JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(GOOD_PDF, folder / "good.pdf")
    (folder / "good.csv").write_text(simple_csv("Good Cal"), encoding="utf-8")
    shutil.copy(SAMPLES / "json" / "dsld-11243-mega-daily-4-for-men.json", folder / "m.json")
    return folder
