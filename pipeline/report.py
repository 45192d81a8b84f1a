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

import functools
import hashlib
import io
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd
from markupsafe import Markup

from pipeline.chart import CHART_TITLE, ratio_chart_svg, unplotted_products
from pipeline.config import TEMPLATES_DIR, ReportPaths
from pipeline.document import ProductDocs
from pipeline.errors import AuditError
from pipeline.infra.atomic import atomic_write_chunks
from pipeline.infra.piece_store import PieceStore, cached_text
from pipeline.infra.versions import code_version
from pipeline.normalize import PROTOCOL_AMOUNT_COLUMNS, PROTOCOL_METRIC_COLUMNS

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

TEMPLATE_NAME = "audit.html.j2"

#: The fixed columns of ranking.csv, in order; check columns follow.
RANKING_COLUMNS: tuple[str, ...] = (
    "rank",
    "product_id",
    "source_file",
    "product_name",
    "brand",
    "verdict",
    "score",
    *PROTOCOL_AMOUNT_COLUMNS,
    "k2_form",
    *PROTOCOL_METRIC_COLUMNS,
)
_INT_COLUMNS = ("rank",)
_FLOAT_COLUMNS = ("score", *PROTOCOL_AMOUNT_COLUMNS, *PROTOCOL_METRIC_COLUMNS)
CHECK_COLUMN_PREFIX = "check_"

#: Verdicts in display order, with their human text.
VERDICT_LABELS: dict[str, str] = {
    "matches": "matches",
    "partial": "partial",
    "fails": "fails",
    "not_assessable": "not assessable",
}

#: Short column headings for the ranking table (the full check label is the tooltip).
CHECK_SHORT_LABELS: dict[str, str] = {
    "k2_present": "Has K2",
    "k2_form": "MK-7",
    "k2_ratio": "K2 dose",
    "ca_mg_ratio": "Ca:Mg band",
    "vitamin_d": "Vit. D",
    "anticoagulant_caution": "Warfarin caution",
    "fat_guidance": "With fat",
}

#: Headings of the lists in audit["changes"].
CHANGE_HEADINGS: dict[str, str] = {
    "added": "New products",
    "removed": "Products no longer found",
    "verdict_changed": "Verdict changed",
}


# --------------------------------------------------------------------------- writing


def audit_json(audit: Mapping[str, Any]) -> str:
    """audit.json's text (see `audit_json_chunks`)."""
    return "".join(audit_json_chunks(audit))


def _dumps(value: Any, indent: int | None) -> str:
    return json.dumps(
        value, indent=indent, ensure_ascii=False, allow_nan=False, default=_json_default
    )


def audit_json_chunks(
    audit: Mapping[str, Any], *, pieces: ProductPieces | None = None
) -> Iterator[str]:
    """audit.json's text in pieces, so that the whole text (~18 MB for 2,000 label files)
    is never held: strict UTF-8 JSON, keys in their given order, indented by 2, except that
    each product is written on one line of its own (`grep product-id audit.json` shows a
    whole product). That line is encoded by the standard library's C encoder; an indented
    product would go through its pure-Python encoder, several times slower. With `pieces`,
    a product's line comes from `ProductPieces.json_line` (reused from an earlier run).
    """
    if not audit:
        yield "{}\n"
        return
    for position, (key, value) in enumerate(audit.items()):
        head = ("{\n  " if position == 0 else ",\n  ") + _dumps(str(key), None) + ": "
        if key == "products" and isinstance(value, Sequence) and len(value):
            yield head + "["
            if pieces is None:
                lines: Iterable[str] = (_dumps(product, None) for product in value)
            else:
                products = enumerate(_without_label_rows(value))
                lines = (pieces.json_line(product, index) for index, product in products)
            for index, line in enumerate(lines):
                yield (",\n    " if index else "\n    ") + line
            yield "\n  ]"
        else:
            yield head + _dumps(value, 2).replace("\n", "\n  ")
    yield "\n}\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"audit.json: cannot write a {type(value).__name__}")


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
        try:
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


# --------------------------------------------------------------------------- ranking


def _products(audit: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The products in rank order (a product without a rank goes last, order kept). A run's
    ProductDocs are in rank order already, and are not read here."""
    products = audit.get("products") or []
    if isinstance(products, ProductDocs):
        return products
    return sorted(
        products,
        key=lambda p: (p.get("rank") is None, p.get("rank") if p.get("rank") is not None else 0),
    )


def _without_label_rows(products: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The products, for a reader that does not need their label rows."""
    return products.without_label_rows() if isinstance(products, ProductDocs) else products


def _check_labels(products: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """check name -> its label, in the order the checks first appear in the products."""
    if isinstance(products, ProductDocs):
        return products.check_labels()
    labels: dict[str, str] = {}
    for product in products:
        for check in product.get("checks") or []:
            labels.setdefault(str(check.get("name")), str(check.get("label") or check.get("name")))
    return labels


def check_names(audit: Mapping[str, Any]) -> list[str]:
    """Every check name: the protocol's weights order first, then any other in the order
    they first appear in the products."""
    weights = (audit.get("methodology") or {}).get("protocol", {}).get("weights") or {}
    names = [str(name) for name in weights]
    names += [name for name in _check_labels(audit.get("products") or []) if name not in names]
    return names


def ranking_frame(audit: Mapping[str, Any]) -> pd.DataFrame:
    """One row per product in rank order: RANKING_COLUMNS, then "check_<name>" per check
    (nullable boolean: True passed, False failed, missing = not assessed / not run)."""
    names = check_names(audit)
    records: list[dict[str, Any]] = []
    for product in _without_label_rows(_products(audit)):
        record: dict[str, Any] = {column: product.get(column) for column in RANKING_COLUMNS}
        passed = passed_by_name(product.get("checks") or [])
        for name in names:
            value = passed.get(name)
            record[CHECK_COLUMN_PREFIX + name] = None if value is None else bool(value)
        records.append(record)
    columns = [*RANKING_COLUMNS, *(CHECK_COLUMN_PREFIX + n for n in names)]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in columns:
        if column in _INT_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        elif column in _FLOAT_COLUMNS:
            frame[column] = pd.array(
                [None if v is None else float(v) for v in frame[column]], dtype="Float64"
            )
        elif column.startswith(CHECK_COLUMN_PREFIX):
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].astype("string")
    return frame


#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(text: str) -> str:
    """A text cell that a spreadsheet shows as text: one starting like a formula gets a
    leading "'" (OWASP's advice; the spreadsheet hides it)."""
    return "'" + text if text.startswith(CSV_FORMULA_STARTS) else text


def csv_cell_text(cell: str) -> str:
    """The text a `csv_safe_cell` cell was made from."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(CSV_FORMULA_STARTS) else cell


def ranking_csv(audit: Mapping[str, Any]) -> str:
    """ranking.csv's text: the ranking frame with checks written true / false / empty, and
    every text cell made safe to open in a spreadsheet (`csv_safe_cell`; numbers are
    numbers, written as such)."""
    frame = ranking_frame(audit).copy()
    for column in frame.columns:
        if str(column).startswith(CHECK_COLUMN_PREFIX):
            frame[column] = pd.array(
                ["" if pd.isna(v) else ("true" if v else "false") for v in frame[column]],
                dtype="string",
            )
        elif isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = pd.array(
                [None if pd.isna(v) else csv_safe_cell(str(v)) for v in frame[column]],
                dtype="string",
            )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, na_rep="", lineterminator="\n")
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML


def fmt_number(value: Any, digits: int = 2) -> str:
    """A number for people: 500.0 -> "500", 22.5 -> "22.5", 1/3 -> "0.33"; missing -> "—"."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    text = f"{number:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def sort_key(value: Any) -> str:
    """The data-sort attribute of a numeric cell: the plain number, "" when missing."""
    if value is None or isinstance(value, bool):
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return repr(number) if math.isfinite(number) else ""


def fmt_ratio(value: Any) -> str:
    """Calcium : magnesium as "2.0:1"; missing -> "—"."""
    if sort_key(value) == "":
        return "—"
    return f"{float(value):.1f}:1"


def fmt_percent(value: Any) -> str:
    """An OCR confidence 0-100 as "71%"."""
    return f"{float(value):.0f}%"


def passed_by_name(checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """check name -> passed (True / False / None) of one product's checks."""
    return {str(check.get("name")): check.get("passed") for check in checks}


def verdict_label(verdict: Any) -> str:
    text = str(verdict or "")
    return VERDICT_LABELS.get(text, text.replace("_", " "))


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


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    env.filters["sortkey"] = sort_key
    env.filters["ratio"] = fmt_ratio
    env.filters["percent"] = fmt_percent
    env.filters["verdict"] = verdict_label
    env.filters["passed_by_name"] = passed_by_name
    env.globals["card_rows"] = card_rows
    return env


#: Label rows of these nutrients are always shown in full on a product's card.
CARD_NUTRIENTS = frozenset(
    {"calcium", "magnesium", "vitamin_d", "vitamin_k1", "vitamin_k2", "vitamin_k"}
)
#: Row statuses whose amount or unit could not be used (pipeline.normalize.Normalized).
_UNUSABLE = frozenset({"unparsed_amount", "unknown_unit", "unit_not_for_nutrient", "not_converted"})
_FINDING_LINE = re.compile(r"^line (\d+)\b")


def finding_lines(data_quality: Sequence[Mapping[str, Any]]) -> dict[Any, set[int]]:
    """product_id -> the label lines a data-quality finding names, read from findings
    whose detail starts with "line N" (the row checks' wording)."""
    lines: dict[Any, set[int]] = {}
    for finding in data_quality:
        match = _FINDING_LINE.match(str(finding.get("detail") or ""))
        if match:
            lines.setdefault(finding.get("product_id"), set()).add(int(match.group(1)))
    return lines


def _printed(row: Mapping[str, Any]) -> str:
    """A label line in a few words, as printed: "Vitamin C 60 mg"."""
    amount = " ".join(str(row.get(k)) for k in ("amount_raw", "unit_raw") if row.get(k))
    return f"{row.get('name_raw') or ''} {amount}".strip()


def card_rows(
    rows: Iterable[Mapping[str, Any]], flagged: Collection[Any] = ()
) -> tuple[list[Mapping[str, Any]], list[str]]:
    """A card's label rows: those shown in full (the protocol's nutrients, and any line
    with a data-quality finding, an OCR repair or an unusable unit), and the others in a
    few words each ("Vitamin C 60 mg"). audit.json keeps every row in full."""
    full: list[Mapping[str, Any]] = []
    others: list[str] = []
    for row in rows:
        if (
            row.get("nutrient") in CARD_NUTRIENTS
            or row.get("line_no") in flagged
            or row.get("repairs")
            or row.get("unit_status") in _UNUSABLE
        ):
            full.append(row)
        else:
            others.append(_printed(row))
    return full, others


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
    fields = ("k2_mcg_per_500mg_ca", "ca_to_mg_ratio", "calcium_mg", "verdict", "rank")
    inputs = [list(k2_band), list(ca_mg_band), [[p.get(f) for f in fields] for p in products]]
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
    chart_svg = chart_with_cache(
        summaries,
        k2_band=protocol.get("k2_ratio_mcg_per_500mg_ca") or (100.0, 180.0),
        ca_mg_band=protocol.get("ca_to_mg_band") or (1.5, 2.5),
        cache=chart_cache,
    )
    if flagged_lines is None:
        flagged_lines = finding_lines(audit.get("data_quality") or [])
    named = {f.get("product_id") for f in audit.get("data_quality") or []}
    names = {p["product_id"]: p["product_name"] for p in summaries if p["product_id"] in named}
    counts = Counter(p["verdict"] for p in summaries)
    template = _environment().get_template(TEMPLATE_NAME)
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
            unplotted=unplotted_products(summaries),
            card_body=bodies.card_body,
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


def _broken_card(product: Mapping[str, Any], exc: Exception) -> Markup:
    """A card's body when it could not be rendered: says so, and where the data is."""
    from markupsafe import escape

    reason = escape(f"{type(exc).__name__}: {exc}")
    return Markup(
        f'<p class="empty">This card could not be built (internal error: {reason}); '
        "the product's data is in audit.json.</p>\n"
    )


def _json_safe(value: Any) -> Any:
    """`value` with what JSON cannot hold made plain: NaN and infinities None, unknown
    objects as text, mappings and sequences walked."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes):
        return [_json_safe(v) for v in value]
    return str(value)


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
