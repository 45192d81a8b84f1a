"""audit.html at catalog scale: above REPORT_INLINE_PRODUCTS products (pipeline.config).

A page that holds every product's card stops being usable at tens of thousands of products
(147 MB at 20,000). Above the threshold the report is written in two parts:

- audit.html keeps the summary, what changed, the chart (binned, pipeline.chart) and every
  other section, but its ranking table is drawn by the page's script
  (templates/catalog.js.j2) from `ranking_data`: one compact column per field of every
  product, JSON, gzip-compressed and base64-encoded inside a non-executed <script> element
  (Chromium blocks fetch() of local files from a file:// page, so the data is in the page);
  sort, verdict filter and search (name, brand, id, file) run over all products, a page of
  REPORT_TABLE_ROWS rows is shown at a time;
- the cards are on pages of REPORT_CARDS_PER_PAGE under REPORTS/products/
  (`card_page_name`): each page holds its cards as compact data
  (pipeline.report_card_data, `page_data`) that its script (templates/cards_page.js.j2)
  draws as it loads, every text set with textContent (rendering each card with jinja2
  was ~0.4 ms a card); the product at rank position i (from 0) is `card_href(i)`. They
  are written into a temp folder beside products/ and swapped in after audit.html,
  audit.json and ranking.csv are (`card_pages`).

Up to the threshold nothing of this is used: the page is the one-page report, and a
products/ folder left by an earlier catalog-scale run is removed.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import math
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.chart import _number as finite_number
from pipeline.config import REPORT_CARDS_PER_PAGE, REPORT_INLINE_PRODUCTS, REPORT_TABLE_ROWS
from pipeline.errors import AuditError
from pipeline.report_format import (
    VERDICT_LABELS,
    _environment,
    _field,
    check_marks,
    verdict_label,
)

CARDS_DIR = "products"
CARD_PAGE_TEMPLATE = "cards_page.html.j2"
CARD_PAGE_DIGITS = 5
#: The file in products/ that says the folder is this program's (only such a folder is
#: ever replaced or removed).
CARDS_MARKER = ".labelaudit-cards"


def is_catalog(product_count: int) -> bool:
    """Whether a report of this many products is written at catalog scale."""
    return product_count > REPORT_INLINE_PRODUCTS


def card_page_name(page: int) -> str:
    """The file name of card page `page` (from 1) under products/."""
    return f"cards-{page:0{CARD_PAGE_DIGITS}d}.html"


def card_href(index: int) -> str:
    """The link from audit.html to the card of the product at `index` (from 0) in rank
    order."""
    page = index // REPORT_CARDS_PER_PAGE + 1
    return f"{CARDS_DIR}/{card_page_name(page)}#product-{index + 1}"


def _rounded(value: Any, digits: int) -> float | None:
    """A number as the table shows it (pipeline.report_format.fmt_number's digits), None
    when missing or not finite."""
    number = finite_number(value)
    return None if number is None else round(number, digits)


def ranking_data(
    products: Sequence[Mapping[str, Any]],
    check_names: Sequence[str],
) -> dict[str, Any]:
    """What the catalog's table shows of every product, one list per field, in rank order
    (`products`: without their label rows). Brands, verdicts and K2 forms are indexes into
    their own lists (-1: none); numbers are rounded as the table shows them (score 2
    digits, K2 per 500 mg Ca 1, Ca:Mg 1); "checks" is one character per check of
    `check_names`: "1" passed, "0" failed, "-" not assessed."""
    return {key: make() for key, make in ranking_items(products, check_names)}


def _indexes(values: Sequence[Any]) -> dict[str, int]:
    """Each value that is there (not empty), numbered in the order it first appears."""
    out: dict[str, int] = {}
    for value in values:
        if value:
            out.setdefault(str(value), len(out))
    return out


def ranking_items(
    products: Sequence[Mapping[str, Any]],
    check_names: Sequence[str],
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """`ranking_data`'s entries in order, each value made only when asked for (so that
    `encode_items` holds one column of every product at a time, not all of them)."""
    verdicts = list(VERDICT_LABELS)
    for verdict in dict.fromkeys(str(v or "") for v in _field(products, "verdict")):
        if verdict not in verdicts:
            verdicts.append(verdict)
    verdict_index = {v: i for i, v in enumerate(verdicts)}
    brands = _indexes(_field(products, "brand"))
    forms = _indexes(_field(products, "k2_form"))

    def text(name: str) -> Callable[[], list[str]]:
        return lambda: [str(v or "") for v in _field(products, name)]

    def rounded(name: str, digits: int) -> Callable[[], list[float | None]]:
        return lambda: [_rounded(v, digits) for v in _field(products, name)]

    def indexed(name: str, index: Mapping[str, int]) -> Callable[[], list[int]]:
        return lambda: [index[str(v)] if v else -1 for v in _field(products, name)]

    yield from {
        "verdicts": lambda: verdicts,
        "verdict_labels": lambda: [verdict_label(v) for v in verdicts],
        "brands": lambda: list(brands),
        "forms": lambda: list(forms),
        "check_count": lambda: len(check_names),
        "cards_per_page": lambda: REPORT_CARDS_PER_PAGE,
        "card_prefix": lambda: f"{CARDS_DIR}/cards-",
        "card_digits": lambda: CARD_PAGE_DIGITS,
        "table_rows": lambda: REPORT_TABLE_ROWS,
        "rank": lambda: [r if isinstance(r, int) else None for r in _field(products, "rank")],
        "id": text("product_id"),
        "file": text("source_file"),
        "name": text("product_name"),
        "brand": indexed("brand", brands),
        "verdict": lambda: [verdict_index[str(v or "")] for v in _field(products, "verdict")],
        "score": rounded("score", 2),
        "form": indexed("k2_form", forms),
        "k2": rounded("k2_mcg_per_500mg_ca", 1),
        "camg": rounded("ca_to_mg_ratio", 1),
        "checks": lambda: check_marks(products, check_names),
    }.items()


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_data(data: Mapping[str, Any]) -> str:
    """`data` as the page embeds it: compact JSON, gzip (no time stamp, so the same audit
    gives the same page), base64 (only A-Z a-z 0-9 + / =: nothing HTML can read as markup)."""
    return encode_items((key, _given(value)) for key, value in data.items())


def _given(value: Any) -> Callable[[], Any]:
    return lambda: value


def encode_items(items: Iterable[tuple[str, Callable[[], Any]]]) -> str:
    """`encode_data` of the object of these entries, each made, encoded and compressed
    in turn (the JSON text is never held whole)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip, its time stamp 0
    chunks: list[bytes] = []
    for position, (key, make) in enumerate(items):
        piece = ("{" if position == 0 else ",") + _compact(key) + ":" + _compact(make())
        chunks.append(packer.compress(piece.encode("utf-8")))
    chunks.append(packer.compress(b"}" if chunks else b"{}"))
    chunks.append(packer.flush())
    return base64.b64encode(b"".join(chunks)).decode("ascii")


def decode_data(encoded: str) -> dict[str, Any]:
    """What `encode_data` embedded (for tests and the bench)."""
    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(encoded)))
    return data


def page_context(
    products: Sequence[Mapping[str, Any]],
    check_names: Sequence[str],
) -> dict[str, Any]:
    """The template's `catalog`: the embedded data and the card pages' links."""
    count, per_page = len(products), REPORT_CARDS_PER_PAGE
    pages = [
        {
            "href": f"{CARDS_DIR}/{card_page_name(page + 1)}",
            "first": page * per_page + 1,
            "last": min((page + 1) * per_page, count),
        }
        for page in range(math.ceil(count / per_page))
    ]
    data = encode_items(ranking_items(products, check_names))
    return {"data": data, "pages": pages, "per_page": per_page}


def page_data(first: int, ranks: Sequence[Any], cards: Sequence[str]) -> str:
    """A card page's #card-data: {"first": its first place (from 1), "ranks": each card's
    rank, "cards": each card's data} (`cards`: pipeline.report_card_data.card_json texts,
    which hold no "<"), as JSON the page's script reads."""
    shown = [r if type(r) is int else None for r in ranks]
    return f'{{"first":{first},"ranks":{_compact(shown)},"cards":[{",".join(cards)}]}}'


def card_page_chunks(
    audit: Mapping[str, Any],
    total: int,
    cards: Callable[[int, int], Sequence[str]],
    ranks: Callable[[int, int], Sequence[Any]],
) -> Iterator[tuple[str, Iterator[str]]]:
    """(file name, its text in pieces) of each card page of `total` products; `cards` as
    ProductPieces.card_data (the card data of the products at first to end, in rank
    order), `ranks` as ProductPieces.ranks."""
    template = _environment().get_template(CARD_PAGE_TEMPLATE)
    per_page = REPORT_CARDS_PER_PAGE
    page_count = math.ceil(total / per_page)
    for page in range(page_count):
        first = page * per_page
        end = min(first + per_page, total)
        shown = cards(first, end)
        yield (
            card_page_name(page + 1),
            template.generate(
                audit=audit,
                data=Markup(page_data(first + 1, ranks(first, end), shown)),
                first=first + 1,
                last=first + len(shown),
                total=total,
                per_page=per_page,
                previous=card_page_name(page) if page else None,
                next=card_page_name(page + 2) if page + 1 < page_count else None,
            ),
        )


def _remove_ours(folder: Path) -> None:
    """Remove a card folder this program wrote (one without the marker is left alone)."""
    if (folder / CARDS_MARKER).is_file():
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def card_pages(
    audit: Mapping[str, Any],
    total: int,
    cards: Callable[[int, int], Sequence[str]],
    ranks: Callable[[int, int], Sequence[Any]],
    reports_dir: Path,
) -> Iterator[None]:
    """Around writing the report's three files: at catalog scale, first write the card
    pages into a temp folder in `reports_dir`, and when the block ends without error put
    them in place of products/; up to the threshold, remove a products/ folder left by an
    earlier catalog-scale run. On an error the temp folder is removed and products/ is
    left as it was."""
    target = reports_dir / CARDS_DIR
    if not is_catalog(total):
        yield
        _remove_ours(target)
        return
    if target.exists() and not (target / CARDS_MARKER).is_file():
        raise AuditError(
            f"{target} is not labelaudit's card folder (no {CARDS_MARKER}): move it away, "
            "or write the report in another folder (--out)"
        )
    reports_dir.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{CARDS_DIR}-", dir=reports_dir))
    try:
        temp.chmod(0o755)  # mkdtemp's 0700 would hide the pages from other readers
        (temp / CARDS_MARKER).write_text("card pages of labelaudit's report\n", encoding="utf-8")
        for name, chunks in card_page_chunks(audit, total, cards, ranks):
            with (temp / name).open("w", encoding="utf-8", newline="") as out:
                out.writelines(chunks)
        yield
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{CARDS_DIR}-old-", dir=reports_dir))
        target.rename(old / CARDS_DIR)
    temp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
