"""The report stage: audit.html, audit.json and ranking.csv from an audit document.

The audit document is the JSON-ready dict the scoring stage builds (its shape is shown by
tests/data/audit_example.json). audit.json and ranking.csv are public contracts:

- audit.json is the document as is: UTF-8, keys in their given order, indented by 2, each
  product on one line of its own.
- ranking.csv has one row per product in rank order with the columns RANKING_COLUMNS, then
  one column "check_<name>" per check (true / false / empty for not assessed). The prefix
  keeps a check apart from a product column of the same name (check "k2_form" vs the
  column "k2_form").

audit.html is one self-contained page (inline CSS, a few lines of inline JS, the chart as
inline SVG) that opens offline and loads nothing from anywhere.

Every file is streamed into a temp file in the same folder, and only when all three are
complete do they replace the old ones (os.replace): a failure while rendering leaves the
previous reports as they were, and neither page is ever held whole in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline import report_catalog
from pipeline.chart import (
    CHART_TITLE,
    binned_content,
    chart_points,
    chart_template,
    protocol_bands,
    ratio_chart_svg,
    unplotted_products,
)
from pipeline.chart_labels import fill_ranks
from pipeline.config import (
    CHART_BINS,
    CHART_MAX_POINTS,
    REPORT_LIST_ITEMS,
    ReportPaths,
)
from pipeline.document import ProductDocs
from pipeline.errors import AuditError
from pipeline.infra.atomic import atomic_write_chunks
from pipeline.infra.atomic import atomic_write_text as atomic_write_text
from pipeline.infra.piece_store import cached_text
from pipeline.infra.versions import code_version
from pipeline.report_catalog import CARD_PAGE_TEMPLATE
from pipeline.report_format import VERDICT_LABELS as VERDICT_LABELS
from pipeline.report_format import _check_labels as _check_labels
from pipeline.report_format import _environment as _environment
from pipeline.report_format import _products as _products
from pipeline.report_format import _without_label_rows as _without_label_rows
from pipeline.report_format import card_rows as card_rows
from pipeline.report_format import check_names as check_names
from pipeline.report_format import finding_lines as finding_lines
from pipeline.report_format import fmt_number as fmt_number
from pipeline.report_format import passed_by_name as passed_by_name
from pipeline.report_format import verdict_label as verdict_label
from pipeline.report_pieces import _BODY_MARK as _BODY_MARK
from pipeline.report_pieces import _CARD_MARKS as _CARD_MARKS
from pipeline.report_pieces import CARD_BODY_TEMPLATE, CARD_TEMPLATE
from pipeline.report_pieces import ProductPieces as ProductPieces
from pipeline.report_tables import CHECK_COLUMN_PREFIX as CHECK_COLUMN_PREFIX
from pipeline.report_tables import RANKING_COLUMNS as RANKING_COLUMNS
from pipeline.report_tables import _json_safe as _json_safe
from pipeline.report_tables import audit_json as audit_json
from pipeline.report_tables import audit_json_chunks as audit_json_chunks
from pipeline.report_tables import csv_cell_text as csv_cell_text
from pipeline.report_tables import csv_safe_cell as csv_safe_cell
from pipeline.report_tables import ranking_csv as ranking_csv
from pipeline.report_tables import ranking_csv_chunks
from pipeline.report_tables import ranking_frame as ranking_frame
from pipeline.rules.protocol import SHORT_LABELS

log = logging.getLogger(__name__)

TEMPLATE_NAME = "audit.html.j2"


#: Short column headings for the ranking table (the full check label is the tooltip).
CHECK_SHORT_LABELS: dict[str, str] = SHORT_LABELS

#: Headings of the lists in audit["changes"].
CHANGE_HEADINGS: dict[str, str] = {
    "added": "New products",
    "removed": "Products no longer found",
    "verdict_changed": "Verdict changed",
}


def write_reports(
    audit: Mapping[str, Any],
    reports_dir: Path,
    *,
    flagged_lines: Mapping[Any, Collection[Any]] | None = None,
    chart_cache: Path | None = None,
    pieces_cache: Path | None = None,
    product_keys: Mapping[Any, str] | None = None,
) -> list[Path]:
    """Write audit.html, audit.json and ranking.csv under `reports_dir`; return their paths.

    Each is streamed into a temp file beside its target; only when all three are written
    do they replace the old reports, so a failure while rendering leaves those as they
    were. `flagged_lines` and `chart_cache` are passed to `html_chunks`; `pieces_cache`
    and `product_keys` to `ProductPieces`.
    """
    paths = ReportPaths(Path(reports_dir))
    if flagged_lines is None:
        flagged_lines = finding_lines(audit.get("data_quality") or [])
    products = _products(audit)
    pieces = ProductPieces(products, flagged_lines, pieces_cache, product_keys)
    written = False
    try:
        html = html_chunks(
            audit, flagged_lines=flagged_lines, chart_cache=chart_cache, pieces=pieces
        )
        try:
            with report_catalog.card_pages(
                audit, len(products), pieces.card_data, pieces.ranks, paths.root
            ):
                result = atomic_write_chunks(
                    [
                        (paths.html, html),
                        (paths.json, audit_json_chunks(audit, pieces=pieces)),
                        (paths.ranking_csv, ranking_csv_chunks(audit)),
                    ]
                )
        except OSError as exc:
            if exc.filename is not None or not exc.strerror:
                raise
            # a write (disk full, quota) names no file: the folder is named instead
            raise AuditError(f"cannot write the report in {paths.root}: {exc.strerror}") from exc
        written = True
    finally:
        pieces.close(prune=written)
    log.info(
        "report: %d product documents built, %d cards and %d audit.json lines reused",
        pieces.built,
        pieces.reused,
        pieces.lines_reused,
    )
    return result


# --------------------------------------------------------------------------- HTML


def _check_columns(audit: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ranking table's check columns: name, short heading and full label."""
    labels = _check_labels(audit.get("products") or [])
    columns = []
    for name in check_names(audit):
        label = labels.get(name, name.replace("_", " "))
        columns.append({"name": name, "short": CHECK_SHORT_LABELS.get(name, label), "label": label})
    return columns


def _change_sections(changes: Any) -> list[dict[str, Any]]:
    """The non-empty lists of audit["changes"], with headings, in their given order."""
    if not isinstance(changes, Mapping):
        return []
    sections = []
    for key, items in changes.items():
        if isinstance(items, Sequence) and not isinstance(items, str) and len(items) > 0:
            heading = CHANGE_HEADINGS.get(str(key), str(key).replace("_", " ").capitalize())
            sections.append({"key": str(key), "heading": heading, "items": list(items)})
    return sections


def chart_with_cache(
    products: Sequence[Mapping[str, Any]],
    *,
    k2_band: Sequence[float],
    ca_mg_band: Sequence[float],
    cache: Path | None = None,
) -> str:
    """`ratio_chart_svg`, its drawing (`chart_template`, the rank labels as placeholders)
    kept in the file `cache` (if given) with a key of everything it draws: each point's
    verdict and place and whether it has a label (not the rank: `fill_ranks` puts the ranks
    in on every run), or a binned chart's cells (`binned_content`), the bands, the chart
    code and matplotlib's version. A run whose points are unchanged skips matplotlib."""
    if cache is None:
        return ratio_chart_svg(products, k2_band=k2_band, ca_mg_band=ca_mg_band)
    points = chart_points(products)
    inputs: list[Any] | None = binned_content(products, k2_band=k2_band, ca_mg_band=ca_mg_band)
    if inputs is None:
        inputs = [list(k2_band), list(ca_mg_band), [[v, x, y, bool(r)] for v, x, y, r in points]]
    inputs.append([CHART_MAX_POINTS, CHART_BINS])  # when the chart is binned, and how finely
    key = hashlib.sha256(
        f"{code_version('chart')}\n{json.dumps(inputs, default=str)}".encode()
    ).hexdigest()
    template = cached_text(
        cache, key, lambda: chart_template(points, k2_band=k2_band, ca_mg_band=ca_mg_band)
    )
    return fill_ranks(template, [point[3] for point in points])


def prepare() -> None:
    """Load and compile the page's templates now (they are cached for `html_chunks`)."""
    for name in (TEMPLATE_NAME, CARD_TEMPLATE, CARD_BODY_TEMPLATE, CARD_PAGE_TEMPLATE):
        _environment().get_template(name)


def render_html(
    audit: Mapping[str, Any], *, flagged_lines: Mapping[Any, Collection[Any]] | None = None
) -> str:
    """The audit page (one self-contained HTML document) for an audit document."""
    return "".join(html_chunks(audit, flagged_lines=flagged_lines))


def html_chunks(
    audit: Mapping[str, Any],
    *,
    flagged_lines: Mapping[Any, Collection[Any]] | None = None,
    chart_cache: Path | None = None,
    pieces: ProductPieces | None = None,
) -> Iterator[str]:
    """The audit page in pieces (jinja2's stream), for writing without holding it whole.

    `flagged_lines` (product_id -> line numbers) names the label lines that have a
    data-quality finding; by default they are read from the findings' details.
    `chart_cache`: see `chart_with_cache`. `pieces` gives each card (by default, a
    ProductPieces without a cache: every card rendered).
    """
    products = _products(audit)
    protocol = (audit.get("methodology") or {}).get("protocol") or {}
    summaries = _summaries(products, CHART_FIELDS)
    k2_band, ca_mg_band = protocol_bands(
        protocol.get("k2_ratio_mcg_per_500mg_ca"), protocol.get("ca_to_mg_band")
    )
    chart_svg = chart_with_cache(
        summaries,
        k2_band=k2_band,
        ca_mg_band=ca_mg_band,
        cache=chart_cache,
    )
    if flagged_lines is None:
        flagged_lines = finding_lines(audit.get("data_quality") or [])
    named = {f.get("product_id") for f in audit.get("data_quality") or []}
    names = {p["product_id"]: p["product_name"] for p in summaries if p["product_id"] in named}
    counts = Counter(p["verdict"] for p in summaries)
    template = _environment().get_template(TEMPLATE_NAME)
    unplotted = unplotted_products(summaries)
    plotted = len(summaries) - len(unplotted)
    del summaries  # one dict a product: not held while the page is written
    catalog = None
    if report_catalog.is_catalog(len(products)):
        checks = [column["name"] for column in _check_columns(audit)]
        catalog = report_catalog.page_context(_without_label_rows(products), checks)
    own = pieces is None
    bodies = ProductPieces(products, flagged_lines) if pieces is None else pieces
    try:
        yield from template.generate(
            audit=audit,
            products=products,
            ranked=_without_label_rows(products),
            product_count=len(products),
            verdict_counts={key: counts.get(key, 0) for key in VERDICT_LABELS},
            protocol=protocol,
            check_columns=_check_columns(audit),
            change_sections=_change_sections(audit.get("changes")),
            verdicts=VERDICT_LABELS,
            product_names=names,
            flagged_lines=flagged_lines,
            chart_svg=Markup(chart_svg),  # matplotlib's SVG; it holds no text from the labels
            chart_title=CHART_TITLE,
            unplotted=unplotted,
            unplotted_counts=list(Counter(u["reason"] for u in unplotted).items()),
            chart_binned=plotted if plotted > CHART_MAX_POINTS else 0,
            card_html=bodies.card,
            catalog=catalog,
            list_items=REPORT_LIST_ITEMS,
        )
    finally:
        if own:
            bodies.close(prune=False)


#: What the chart, its "not plotted" list and the page's counts read of each product.
CHART_FIELDS = (
    "product_id",
    "product_name",
    "rank",
    "verdict",
    "calcium_mg",
    "k2_mcg_per_500mg_ca",
    "ca_to_mg_ratio",
)


def _summaries(
    products: Sequence[Mapping[str, Any]], fields: Sequence[str]
) -> list[dict[str, Any]]:
    """Only `fields` of each product (missing ones None), in the given order."""
    if isinstance(products, ProductDocs):
        return products.fields(fields)
    return [{f: p.get(f) for f in fields} for p in products]
