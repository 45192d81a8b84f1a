"""OCR benchmark: seconds per label image on the generated image styles.

    python -m bench.ocr [--per-style N] [--engine tesseract|rapidocr] [--json FILE]

Writes N images of each style of labelgen.image_styles (real DSLD labels and the
project's samples, seeded), then times on the same images, one image at a time in this
one process (one core):

(a) the plain `tesseract IMAGE stdout --psm 4 tsv` command on the image as it is (no
    preprocessing, no panel reader): the floor of what OCR costs;
(b) `pipeline.sources.ocr.read_image`: preprocessing, OCR, repairs and the panel reader
    (a scanned PDF through `read_pdf`), as the audit runs it in each worker process.

Reports the median and the 90th percentile seconds per image of each, per style and over
all images, and the CPU seconds per image of (b) (this process and its tesseract children:
the figure a shared, loaded machine does not inflate) with the load average. Target: (b)
median at most 2 s per label image on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_MEDIAN_S = 2.0
LABEL_IDS = ("sample-bone-matrix", "277758", "220964", "sample-daily-calcium-k2", "11249")


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _plain_tesseract(path: Path) -> float:
    start = time.perf_counter()
    if path.suffix == ".pdf":
        # the command line reads no PDF: time it on the page rendered at 300 dpi
        from labelgen.raster import rasterize

        png = path.with_suffix(".page.png")
        if not png.exists():
            rasterize(path, 300.0)[0].save(png)
        start = time.perf_counter()
        path = png
    subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "4", "tsv"],
        capture_output=True,
        check=False,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return time.perf_counter() - start


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (tesseract) so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _audit_read(path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of reading one image as the audit does."""
    from pipeline.errors import LabelError
    from pipeline.sources import ocr
    from pipeline.sources.pdf import read_pdf

    start, cpu = time.perf_counter(), _cpu()
    try:
        if path.suffix == ".pdf":
            read_pdf(path, path.name)
        else:
            ocr.read_image(path, path.name)
    except LabelError:
        pass  # a rejection costs its time too
    return time.perf_counter() - start, _cpu() - cpu


def run(per_style: int, engine: str | None) -> dict[str, Any]:
    from labelgen.image_styles import STYLES, SUFFIX, write_style_image
    from labelgen.products import product_label

    if engine:
        os.environ["LABELAUDIT_OCR_ENGINE"] = engine
    out: dict[str, Any] = {"per_style": per_style, "engine": engine or "tesseract", "styles": {}}
    plain_all: list[float] = []
    read_all: list[float] = []
    cpu_all: list[float] = []
    out["load_before"] = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        for style in STYLES:
            plain: list[float] = []
            read: list[float] = []
            cpu: list[float] = []
            for n in range(per_style):
                lid = LABEL_IDS[n % len(LABEL_IDS)]
                label = product_label(lid)
                path = write_style_image(label, style, Path(tmp) / f"{style}-{n}{SUFFIX[style]}", n)
                plain.append(_plain_tesseract(path))
                wall, used = _audit_read(path)
                read.append(wall)
                cpu.append(used)
            plain_all += plain
            read_all += read
            cpu_all += cpu
            out["styles"][style] = {
                "plain_median_s": round(statistics.median(plain), 2),
                "plain_p90_s": round(_p90(plain), 2),
                "read_median_s": round(statistics.median(read), 2),
                "read_p90_s": round(_p90(read), 2),
                "read_cpu_median_s": round(statistics.median(cpu), 2),
            }
    out["all"] = {
        "images": len(read_all),
        "plain_median_s": round(statistics.median(plain_all), 2),
        "plain_p90_s": round(_p90(plain_all), 2),
        "read_median_s": round(statistics.median(read_all), 2),
        "read_p90_s": round(_p90(read_all), 2),
        "read_cpu_median_s": round(statistics.median(cpu_all), 2),
        "read_cpu_p90_s": round(_p90(cpu_all), 2),
        "target_median_s": TARGET_MEDIAN_S,
    }
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="OCR seconds per label image")
    parser.add_argument("--per-style", type=int, default=3)
    parser.add_argument("--engine", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(args.per_style, args.engine)
    print(
        f"{'style':<20} {'tesseract cmd median/p90':>26} {'labelaudit median/p90':>24}"
        f" {'CPU median':>10}"
    )
    for style, r in result["styles"].items():
        print(
            f"{style:<20} {r['plain_median_s']:>12.2f} / {r['plain_p90_s']:<10.2f}"
            f" {r['read_median_s']:>10.2f} / {r['read_p90_s']:<10.2f}"
            f" {r['read_cpu_median_s']:>10.2f}"
        )
    a = result["all"]
    print(
        f"{'all (' + str(a['images']) + ' images)':<20} {a['plain_median_s']:>12.2f} / "
        f"{a['plain_p90_s']:<10.2f} {a['read_median_s']:>10.2f} / {a['read_p90_s']:<10.2f}"
        f" {a['read_cpu_median_s']:>10.2f} (CPU p90 {a['read_cpu_p90_s']:.2f})"
    )
    print(f"load average (1 min) before / after: {result['load_before']} / {result['load_after']}")
    verdict = "met" if a["read_median_s"] <= TARGET_MEDIAN_S else "NOT met"
    print(f"target: median <= {TARGET_MEDIAN_S:.1f} s per image on one core: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
