"""Paths and settings in one place.

Every default folder, artifact file name and tunable that is not part of the protocol
lives here; the protocol itself (bands, forms, weights, verdict thresholds) lives in
`protocol.toml` beside this module and is loaded by `pipeline.protocol`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
DEFAULT_PROTOCOL_FILE = PACKAGE_DIR / "protocol.toml"

DEFAULT_LABELS_DIR = Path("data/raw")
DEFAULT_REPORTS_DIR = Path("reports")
DEFAULT_WORK_DIR = Path("data/processed")

#: File endings the extract stage reads (lower case, without the dot).
PDF_SUFFIXES = frozenset({"pdf"})
CSV_SUFFIXES = frozenset({"csv"})
JSON_SUFFIXES = frozenset({"json"})
IMAGE_SUFFIXES = frozenset(
    {"png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif", "heic", "heif"}
)
LABEL_SUFFIXES = PDF_SUFFIXES | CSV_SUFFIXES | JSON_SUFFIXES | IMAGE_SUFFIXES
#: Archives read member by member (pipeline.sources.inputs), never unpacked.
ARCHIVE_SUFFIXES = frozenset({"zip"})

#: Corrections and confirmations of label rows, in the labels folder (pipeline.corrections):
#: an input of the audit, never read as a label.
CORRECTIONS_FILE = "corrections.csv"

#: OCR engines for images and scanned PDF pages (`--ocr-engine`). Tesseract is the
#: default: measured against RapidOCR in the README ("Scanned and photographed labels").
OCR_ENGINES = ("tesseract", "rapidocr")
DEFAULT_OCR_ENGINE = "tesseract"
#: The engine in force; `labelaudit audit --ocr-engine` sets it for its worker processes.
OCR_ENGINE_ENV = "LABELAUDIT_OCR_ENGINE"


#: The second reading of a located panel by RapidOCR (pipeline.sources.ocr_second): made
#: when Tesseract's reading of the panel leaves this many rows unread (or one protocol
#: row), only of the panel's crop, its text upscaled (LANCZOS) to SECOND_READING_TEXT_PX;
#: an amount it reads below SECOND_READING_CONFIDENCE (0-100) fills no row. Measured on
#: the real-label dev set (README, "Scanned and photographed labels").
SECOND_READING_UNREAD = 5
SECOND_READING_TEXT_PX = 18.0
SECOND_READING_CONFIDENCE = 80.0
#: A panel whose body text measures below this (pixels) is tiny (pipeline.sources.ocr_tiny):
#: the second reading is made for any unread row, and its amounts fill only confirmed.
TINY_TEXT_PX = 8.0


#: A protocol amount (calcium, magnesium, vitamin D, vitamin K) that OCR read with a
#: lower confidence than this (0-100: the lowest word confidence on its line) does not
#: decide the verdict: the product is not assessable ("amount read with low confidence").
MIN_AMOUNT_CONFIDENCE = 50.0


def ocr_engine() -> str:
    """The OCR engine in force (OCR_ENGINE_ENV, else DEFAULT_OCR_ENGINE)."""
    value = os.environ.get(OCR_ENGINE_ENV, "").strip().lower()
    return value if value in OCR_ENGINES else DEFAULT_OCR_ENGINE


@dataclass(frozen=True)
class FileLimits:
    """What one label file may take while it is read (each file is read in a worker process
    of its own, see pipeline.infra.isolated.map_isolated). A file over a limit is rejected with a
    reason naming it, and the run goes on. Each setting is the `--<name>` option of
    `labelaudit audit` (underscores as dashes)."""

    #: The largest file read (MB); a label PDF is rarely over 20 MB.
    max_file_mb: int = 256
    #: The most pages (PDF) or frames (TIFF) one file may have.
    max_pages: int = 200
    #: The most pixels one image, or one PDF page rendered for OCR at 300 dpi, may have
    #: (120 M: a 36 x 36 inch page; a US letter page is 8.4 M). Checked before rendering.
    max_pixels: int = 120_000_000
    #: The most data rows one CSV file may have (a DSLD export of 20,000 labels has ~200,000).
    max_rows: int = 500_000
    #: Seconds one file may take to read (OCR: about 2 s a page).
    file_timeout: float = 120.0
    #: Memory (MB) the worker reading one file may take on top of what it starts with
    #: (its address space, RLIMIT_AS).
    max_memory_mb: int = 2048


#: The limits a run uses unless told otherwise.
FILE_LIMITS = FileLimits()


def limit_option(name: str) -> str:
    """The command-line option of the FileLimits setting `name`: "--max-pages"."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class WorkPaths:
    """The stage artifacts under one work folder (cookiecutter's data/processed)."""

    root: Path

    @property
    def labels(self) -> Path:
        return self.root / "labels.parquet"

    @property
    def label_rows(self) -> Path:
        return self.root / "label_rows.parquet"

    @property
    def rejections(self) -> Path:
        return self.root / "rejections.parquet"

    @property
    def read_issues(self) -> Path:
        return self.root / "read_issues.parquet"

    @property
    def nutrients(self) -> Path:
        return self.root / "nutrients.parquet"

    @property
    def products(self) -> Path:
        return self.root / "products.parquet"

    @property
    def outcomes(self) -> Path:
        return self.root / "outcomes.parquet"

    @property
    def data_quality(self) -> Path:
        return self.root / "data_quality.parquet"

    @property
    def compliance(self) -> Path:
        """Findings of the compliance rule pack (pipeline.compliance)."""
        return self.root / "compliance.parquet"

    @property
    def gx_compliance_result(self) -> Path:
        return self.root / "gx_compliance_result.json"

    @property
    def gx_protocol_result(self) -> Path:
        return self.root / "gx_protocol_result.json"

    @property
    def gx_data_quality_result(self) -> Path:
        return self.root / "gx_data_quality_result.json"

    @property
    def run_meta(self) -> Path:
        return self.root / "run.json"

    @property
    def corrections(self) -> Path:
        """LABELS/corrections.csv as checked by the extract stage (pipeline.corrections)."""
        return self.root / "corrections.json"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def lock(self) -> Path:
        return self.root / ".labelaudit.lock"


#: The report at catalog scale (pipeline.report_catalog). Up to REPORT_INLINE_PRODUCTS
#: products audit.html is one page with every card in it; above, its ranking table is drawn
#: by the page from compact embedded data (REPORT_TABLE_ROWS rows a page) and the cards are
#: on pages of REPORT_CARDS_PER_PAGE under REPORTS/products/.
REPORT_INLINE_PRODUCTS = 1000
REPORT_CARDS_PER_PAGE = 100
REPORT_TABLE_ROWS = 100
#: Above this many plottable products the chart counts products per cell instead of
#: drawing a point each (pipeline.chart), in CHART_BINS x CHART_BINS cells.
CHART_MAX_POINTS = 1000
CHART_BINS = 40
#: At most this many items of each list on audit.html (changes, findings, rejected files,
#: not label files); the page says how many more audit.json has.
REPORT_LIST_ITEMS = 500
#: The report step holds the products' checks and label rows a slice of this many products
#: of the ranking at a time (pipeline.document_slices; the rest wait on disk).
REPORT_SLICE_PRODUCTS = 2048


@dataclass(frozen=True)
class ReportPaths:
    """What the report stage writes under REPORTS_DIR."""

    root: Path

    @property
    def html(self) -> Path:
        return self.root / "audit.html"

    @property
    def json(self) -> Path:
        return self.root / "audit.json"

    @property
    def ranking_csv(self) -> Path:
        return self.root / "ranking.csv"

    @property
    def history_dir(self) -> Path:
        """Run records of runs before history.jsonl, one JSON file each (still read)."""
        return self.root / "history"

    @property
    def products_dir(self) -> Path:
        """The card pages of a catalog-scale report (pipeline.report_catalog)."""
        return self.root / "products"

    @property
    def history(self) -> Path:
        """One JSON line per run, appended (pipeline.infra.history)."""
        return self.root / "history.jsonl"

    @property
    def data_docs_dir(self) -> Path:
        return self.root / "data-docs"

    @property
    def lock(self) -> Path:
        """The reports folder's lock (two work folders sharing one --out take turns)."""
        return self.root / ".labelaudit.lock"


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
