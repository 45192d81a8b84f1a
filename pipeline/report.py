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

from markupsafe import Markup, escape

from pipeline import report_catalog
from pipeline.chart import (
    CHART_TITLE,
    binned_content,
    protocol_bands,
    ratio_chart_svg,
    unplotted_products,
)
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
from pipeline.infra.piece_store import PieceStore, cached_text
from pipeline.infra.versions import code_version
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
from pipeline.report_tables import CHECK_COLUMN_PREFIX as CHECK_COLUMN_PREFIX
from pipeline.report_tables import RANKING_COLUMNS as RANKING_COLUMNS
from pipeline.report_tables import _dumps
from pipeline.report_tables import _json_safe as _json_safe
from pipeline.report_tables import audit_json as audit_json
from pipeline.report_tables import audit_json_chunks as audit_json_chunks
from pipeline.report_tables import csv_cell_text as csv_cell_text
from pipeline.report_tables import csv_safe_cell as csv_safe_cell
from pipeline.report_tables import ranking_csv as ranking_csv
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
    pieces = ProductPieces(_products(audit), flagged_lines, pieces_cache, product_keys)
    written = False
    try:
        html = html_chunks(
            audit, flagged_lines=flagged_lines, chart_cache=chart_cache, pieces=pieces
        )
        ranked = _without_label_rows(_products(audit))
        try:
            with report_catalog.card_pages(audit, ranked, pieces.card_html, paths.root):
                result = atomic_write_chunks(
                    [
                        (paths.html, html),
                        (paths.json, audit_json_chunks(audit, pieces=pieces)),
                        (paths.ranking_csv, [ranking_csv(audit)]),
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
    """`ratio_chart_svg`, kept in the file `cache` (if given) with a key of everything it
    draws: each product's ratios, calcium, verdict and rank, the bands, the chart code and
    matplotlib's version. A run whose chart is unchanged skips matplotlib (~0.7 s)."""
    if cache is None:
        return ratio_chart_svg(products, k2_band=k2_band, ca_mg_band=ca_mg_band)
    # A binned chart is keyed by what it draws (cells' counts, not each product's rank).
    inputs: list[Any] | None = binned_content(products, k2_band=k2_band, ca_mg_band=ca_mg_band)
    if inputs is None:
        fields = ("k2_mcg_per_500mg_ca", "ca_to_mg_ratio", "calcium_mg", "verdict", "rank")
        inputs = [list(k2_band), list(ca_mg_band), [[p.get(f) for f in fields] for p in products]]
    inputs.append([CHART_MAX_POINTS, CHART_BINS])  # when the chart is binned, and how finely
    key = hashlib.sha256(
        f"{code_version('chart')}\n{json.dumps(inputs, default=str)}".encode()
    ).hexdigest()
    return cached_text(
        cache, key, lambda: ratio_chart_svg(products, k2_band=k2_band, ca_mg_band=ca_mg_band)
    )


def prepare() -> None:
    """Load and compile the page's templates now (they are cached for `html_chunks`)."""
    _environment().get_template(TEMPLATE_NAME)
    _environment().get_template(CARD_TEMPLATE)


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
    `chart_cache`: see `chart_with_cache`. `pieces` gives each card's body (by default,
    a ProductPieces without a cache: every body rendered).
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
            card_body=bodies.card_body,
            catalog=catalog,
            list_items=REPORT_LIST_ITEMS,
        )
    finally:
        if own:
            bodies.close(prune=False)


CARD_TEMPLATE = "card_body.html.j2"
#: What a card's body shows of a product (templates/card_body.html.j2): its cache key when
#: there is no product key.
CARD_BODY_FIELDS = (
    "product_name",
    "label_rows",
    "checks",
    "verdict_reason",
    "directions",
    "warnings",
    "other_ingredients",
    "servings_per_day",
    "servings_per_day_source",
)


class ProductPieces:
    """Per product, the two pieces of the reports that do not depend on its rank: its card's
    body (templates/card_body.html.j2: the label as read, the checks, the label text) and
    its audit.json line but the rank. `products` in rank order; `card_body` and `json_line`
    take a product without its label rows (what the page template and the JSON writer
    iterate) and its position.

    With `cache` (an SQLite file in the work folder) each piece is kept and reused by the
    next run, so that a nightly run in which 1% of the labels changed renders 1% of them:
    - with `keys` (product_id -> a hash of everything the product's document is made of, from
      the validate stage), a piece is found by that key alone, and the product's document
      (with its label rows) is only built for the pieces not found;
    - without, a card body is found by a hash of what it shows (CARD_BODY_FIELDS and the
      flagged lines), and every line is encoded.
    The cache is emptied when the report code, the templates or jinja2 change, and pieces
    not used by a complete run are dropped from it. A cache that cannot be opened is
    rebuilt (or, failing that, not used): it never stops a report.
    """

    def __init__(
        self,
        products: Sequence[Mapping[str, Any]],
        flagged_lines: Mapping[Any, Collection[Any]],
        cache: Path | None = None,
        keys: Mapping[Any, str] | None = None,
    ) -> None:
        self._products = products
        self._template = _environment().get_template(CARD_TEMPLATE)
        self._card = _environment().get_template("card.html.j2")
        self._flagged = flagged_lines
        self._store = PieceStore.open(cache, code_version("report")) if cache is not None else None
        self._keys = keys or {}
        self.rendered = 0  # card bodies rendered (not found in the cache)
        self.reused = 0  # card bodies found in the cache
        self.lines_reused = 0  # audit.json lines found in the cache

    def _document(self, product: Mapping[str, Any], index: int) -> Mapping[str, Any]:
        """The product's whole document: `product` read from ProductDocs without its label
        rows is built again, whole."""
        if isinstance(self._products, ProductDocs) and "label_rows" not in product:
            return self._products[index]
        return product

    def _key(self, kind: str, product: Mapping[str, Any]) -> str | None:
        base = self._keys.get(product.get("product_id"))
        if base is None or self._store is None:
            return None
        flagged = sorted(self._flagged.get(product.get("product_id"), ()))
        return hashlib.sha256(f"{kind}\n{base}\n{flagged}".encode()).hexdigest()

    def _render(self, product: Mapping[str, Any]) -> str:
        self.rendered += 1
        flagged = self._flagged.get(product.get("product_id"), ())
        # + "\n": jinja2 drops the template's final newline
        return self._template.render(p=product, flagged=flagged) + "\n"

    def card_body(self, product: Mapping[str, Any], index: int) -> Markup:
        """The body of the card of the product at `index`."""
        key = self._key("card", product)
        if key is None and self._store is not None:
            document = self._document(product, index)
            flagged = sorted(self._flagged.get(product.get("product_id"), ()))
            shown = [document.get(f) for f in CARD_BODY_FIELDS] + [flagged]
            text = json.dumps(shown, ensure_ascii=False, default=str)
            key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        html = self._store.get(key) if self._store is not None and key is not None else None
        if html is None:
            try:
                html = self._render(self._document(product, index))
            except Exception as exc:  # one product's card must not lose the report
                log.error(
                    "report: the card of %s: %s", product.get("product_id"), exc, exc_info=True
                )
                return _broken_card(product, exc)
            if self._store is not None and key is not None:
                self._store.put(key, html)
        else:
            self.reused += 1
        return Markup(html)  # rendered by the autoescaping template

    def card_html(self, product: Mapping[str, Any], index: int) -> Markup:
        """The whole card (templates/card.html.j2) of the product at `index`, for the card
        pages: its header is kept with its place and rank left as marks (`_CARD_MARKS`)
        that are filled in, so a product whose place changed is not rendered again."""
        body = self.card_body(product, index)
        key = self._key("card-head", product)
        rank = product.get("rank")
        n, mark_n, mark_rank = str(index + 1), *_CARD_MARKS
        kept = self._store.get(key) if self._store is not None and key is not None else None
        if kept is None:
            marked = {**product, "rank": None if rank is None else int(mark_rank)}
            text = self._card.render(p=marked, n=int(mark_n), card_body=lambda *_: _BODY_MARK)
            head, _, tail = text.partition(_BODY_MARK)
            expected = (3, 0 if rank is None else 1, 1)
            found = (text.count(mark_n), text.count(mark_rank), text.count(_BODY_MARK))
            if found != expected:  # a mark in the label's own text: rendered as is
                return Markup(self._card.render(p=product, n=index + 1, card_body=lambda *_: body))
            kept = json.dumps([head, tail], ensure_ascii=False)
            if self._store is not None and key is not None:
                self._store.put(key, kept)
        head, tail = json.loads(kept)
        head = head.replace(mark_n, n).replace(mark_rank, str(rank))
        return Markup(f"{head}{body}{tail}")  # rendered by the autoescaping template

    def json_line(self, product: Mapping[str, Any], index: int) -> str:
        """The audit.json line of the product at `index` (JSON, one line)."""
        key = self._key("json", product)
        rank = _dumps(product.get("rank"), None)
        if key is not None and self._store is not None and "rank" in product:
            tail = self._store.get(key)
            if tail is not None:
                self.lines_reused += 1
                return f'{{"rank": {rank}, {tail}'
        try:
            line = _dumps(self._document(product, index), None)
        except Exception as exc:  # one product's line must not lose the report
            log.error("audit.json: product %s: %s", product.get("product_id"), exc, exc_info=True)
            try:
                return _dumps(_json_safe(self._document(product, index)), None)
            except Exception:
                return _dumps(_json_safe(product), None)
        prefix = f'{{"rank": {rank}, '
        if key is not None and self._store is not None and line.startswith(prefix):
            self._store.put(key, line[len(prefix) :])
        return line

    def close(self, *, prune: bool = True) -> None:
        """Save the cache (and, with `prune`, drop the pieces this run did not use)."""
        if self._store is not None:
            self._store.close(prune=prune)
            self._store = None


#: The marks a kept card header holds in place of its place in rank order and its rank
#: (numbers no label shows: a card whose text has one anyway is not kept), and of its body.
_CARD_MARKS = ("987654320123", "987654321023")
_BODY_MARK = Markup("\x00card-body\x00")


def _broken_card(product: Mapping[str, Any], exc: Exception) -> Markup:
    """A card's body when it could not be rendered: says so, and where the data is."""
    reason = escape(f"{type(exc).__name__}: {exc}")
    return Markup(
        f'<p class="empty">This card could not be built (internal error: {reason}); '
        "the product's data is in audit.json.</p>\n"
    )


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
