"""Each product's two pieces of the reports, made once and kept for the next run.

A product's card (templates/card.html.j2: its header, and its body from
templates/card_body.html.j2) and its audit.json line are the only parts of the reports
that need the product's whole document (its label rows); everything else reads columns
(pipeline.document.ProductDocs). `ProductPieces` hands them out by position in rank
order, a page of them at a time, and builds a product's document only for the pieces it
does not have (`built` counts them): at a rerun in which 1% of the products changed, 1% of
the documents are built, rendered and encoded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from pipeline.config import REPORT_INLINE_PRODUCTS
from pipeline.document import ProductDocs
from pipeline.infra.piece_store import PieceStore
from pipeline.infra.versions import code_version
from pipeline.report_card_data import broken_card_json, card_json
from pipeline.report_format import _environment
from pipeline.report_tables import _dumps, _json_safe

log = logging.getLogger(__name__)

CARD_TEMPLATE = "card.html.j2"
CARD_BODY_TEMPLATE = "card_body.html.j2"
#: Products whose pieces are looked up (and documents built) together.
PIECE_BATCH = 256
#: The marks a kept card holds in place of its place in rank order and its rank (numbers
#: no label shows: a card whose text has one anyway is not kept), and of its body.
_CARD_MARKS = ("987654320123", "987654321023")
_BODY_MARK = Markup("\x00card-body\x00")


def _rank_text(rank: Any) -> str:
    return str(rank) if type(rank) is int else _dumps(rank, None)


class ProductPieces:
    """Per product, in rank order (`products`: ProductDocs, or a plain list of documents):
    its whole card and its audit.json line, by position (`card`, `cards`, `json_lines`).

    With `cache` (an SQLite file in the work folder) each piece is kept and reused by the
    next run: the card with its place and rank left as marks (`_CARD_MARKS`, filled in
    on use, so a product that only moved in the ranking is not rendered again), the line
    without its rank. A piece is found by
    - with `keys` (product_id -> a hash of everything the product's document is made of,
      from the validate stage) and the product's flagged lines: the product's document
      is only built for the pieces not found;
    - without: the card by a hash of the product's audit.json line and its flagged lines
      (every document is built, not every card rendered); the line is not kept.
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
        self._body = _environment().get_template(CARD_BODY_TEMPLATE)
        self._card = _environment().get_template(CARD_TEMPLATE)
        self._flagged = flagged_lines
        self._store = PieceStore.open(cache, code_version("report")) if cache is not None else None
        if isinstance(products, ProductDocs):
            ids, self._ranks = products.column("product_id"), products.column("rank")
        else:
            ids = [p.get("product_id") for p in products]
            self._ranks = [p.get("rank") for p in products]
        given = keys or {}
        self._keys: list[str | None] = [None] * len(ids)
        if self._store is not None:
            for index, pid in enumerate(ids):
                base = given.get(pid)
                if base is not None:
                    flagged = sorted(flagged_lines.get(pid, ()))
                    self._keys[index] = hashlib.sha256(f"{base}\n{flagged}".encode()).hexdigest()
        self._pending: list[tuple[str, str]] = []
        self._line_made = bytearray(len(ids))  # 1: this run made the product's line
        # lines made with a card that the store does not keep, until audit.json is written
        # (only up to REPORT_INLINE_PRODUCTS; above, such a line is made again)
        self._lines: dict[int, str] = {}
        self._hold_lines = len(ids) <= REPORT_INLINE_PRODUCTS
        self._page: tuple[int, list[Markup]] = (0, [])
        self.built = 0  # product documents built (with their label rows)
        self.rendered = 0  # cards rendered (not found in the cache)
        self.reused = 0  # cards found in the cache
        self.lines_reused = 0  # audit.json lines found in the cache

    # ------------------------------------------------------------------ documents

    def _documents(self, indexes: Sequence[int]) -> dict[int, Mapping[str, Any]]:
        """The whole documents of the products at `indexes` (ascending), built a run of
        neighbours at a time."""
        out: dict[int, Mapping[str, Any]] = {}
        docs = self._products
        runs: list[list[int]] = []
        for index in indexes:
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            else:
                runs.append([index])
        for run in runs:
            built: Sequence[Mapping[str, Any]]
            if isinstance(docs, ProductDocs):
                built = docs.batch(run[0], run[-1] + 1)
            else:
                built = [docs[i] for i in run]
            out.update(zip(run, built, strict=True))
            self.built += len(run)
        return out

    def _line(self, document: Mapping[str, Any]) -> str:
        try:
            return _dumps(document, None)
        except Exception as exc:  # one product's line must not lose the report
            log.error("audit.json: product %s: %s", document.get("product_id"), exc, exc_info=True)
            return _dumps(_json_safe(document), None)

    def _keep(self, key: str | None, text: str) -> None:
        if key is not None and self._store is not None:
            self._pending.append((key, text))
            if len(self._pending) >= PIECE_BATCH:
                self._flush()

    def _flush(self) -> None:
        if self._store is not None and self._pending:
            self._store.put_many(self._pending)
        self._pending = []

    # ------------------------------------------------------------------ cards

    def _render(self, product: Mapping[str, Any]) -> str:
        """The body of a product's card (its whole document)."""
        flagged = self._flagged.get(product.get("product_id"), ())
        # + "\n": jinja2 drops the template's final newline
        return self._body.render(p=product, flagged=flagged) + "\n"

    def _body_of(self, product: Mapping[str, Any]) -> Markup:
        try:
            return Markup(self._render(product))  # rendered by the autoescaping template
        except Exception as exc:  # one product's card must not lose the report
            log.error("report: the card of %s: %s", product.get("product_id"), exc, exc_info=True)
            return _broken_card(product, exc)

    def _marked_card(self, product: Mapping[str, Any]) -> str | None:
        """The product's whole card with its place and rank as marks; None when its own
        text holds a mark."""
        self.rendered += 1
        body = self._body_of(product)
        rank = product.get("rank")
        mark_n, mark_rank = _CARD_MARKS
        marked = {**product, "rank": None if rank is None else int(mark_rank)}
        text = self._card.render(p=marked, n=int(mark_n), card_body=lambda *_: _BODY_MARK)
        found = (text.count(mark_n), text.count(mark_rank), text.count(_BODY_MARK))
        if found != (3, 0 if rank is None else 1, 1) or mark_n in body or mark_rank in body:
            return None
        return text.replace(_BODY_MARK, body)

    def _fill(self, marked: str, index: int) -> Markup:
        mark_n, mark_rank = _CARD_MARKS
        text = marked.replace(mark_n, str(index + 1), 3)
        return Markup(text.replace(mark_rank, _rank_text(self._ranks[index]), 1))

    def _card_as_is(self, product: Mapping[str, Any], index: int) -> Markup:
        body = self._body_of(product)
        return Markup(self._card.render(p=product, n=index + 1, card_body=lambda *_: body))

    def cards(self, first: int, end: int) -> list[Markup]:
        """The whole cards (templates/card.html.j2) of the products at `first` to `end`."""
        keys = [self._keys[i] for i in range(first, end)]
        wanted = [f"{k}:card" for k in keys if k is not None]
        found = iter(self._store.get_many(wanted)) if self._store is not None else iter(())
        kept = [None if k is None else next(found) for k in keys]
        missing = [first + n for n, text in enumerate(kept) if text is None]
        documents = self._documents(missing)
        out: list[Markup] = []
        for n, text in enumerate(kept):
            index = first + n
            if text is not None:
                self.reused += 1
                out.append(self._fill(text, index))
                continue
            out.append(self._made_card(documents[index], index, keys[n]))
        return out

    def _line_with(self, document: Mapping[str, Any], index: int, key: str | None) -> str:
        """The audit.json line of a product made for one of its other pieces: kept (or
        held until audit.json is written); returns the line without its rank."""
        line = self._line(document)
        prefix = f'{{"rank": {_rank_text(document.get("rank"))}, '
        if key is not None and self._store is not None and line.startswith(prefix):
            self._keep(f"{key}:json", line[len(prefix) :])
            self._line_made[index] = 1
        elif self._hold_lines:
            self._lines[index] = line
        return line[len(prefix) :] if line.startswith(prefix) else line

    def _shown_key(self, document: Mapping[str, Any], tail: str, kind: str) -> str:
        """The key of a piece of a product without a product key: what it shows."""
        flagged = sorted(self._flagged.get(document.get("product_id"), ()))
        return f"{kind}:" + hashlib.sha256(f"{tail}\n{flagged}".encode()).hexdigest()

    def _made_card(self, document: Mapping[str, Any], index: int, key: str | None) -> Markup:
        """The card of a product whose card was not found (its line is made with it)."""
        tail = self._line_with(document, index, key)
        card_key = f"{key}:card" if key is not None else None
        if key is None and self._store is not None:  # no product key: keyed by what it shows
            card_key = self._shown_key(document, tail, "shown")
            text = self._store.get(card_key)
            if text is not None:
                self.reused += 1
                return self._fill(text, index)
        marked = self._marked_card(document)
        if marked is None:  # a mark in the label's own text: rendered as is
            return self._card_as_is(document, index)
        self._keep(card_key, marked)
        return self._fill(marked, index)

    # ------------------------------------------------------------------ card data

    def card_data(self, first: int, end: int) -> list[str]:
        """The cards of the products at `first` to `end` as the card pages' data
        (pipeline.report_card_data.card_json: JSON without their rank or place)."""
        keys = [self._keys[i] for i in range(first, end)]
        wanted = [f"{k}:data" for k in keys if k is not None]
        found = iter(self._store.get_many(wanted)) if self._store is not None else iter(())
        kept = [None if k is None else next(found) for k in keys]
        documents = self._documents([first + n for n, text in enumerate(kept) if text is None])
        out: list[str] = []
        for n, text in enumerate(kept):
            if text is None:
                text = self._made_data(documents[first + n], first + n, keys[n])
            else:
                self.reused += 1
            out.append(text)
        return out

    def _made_data(self, document: Mapping[str, Any], index: int, key: str | None) -> str:
        """The card data of a product whose data was not found (its line is made with it)."""
        tail = self._line_with(document, index, key)
        data_key = f"{key}:data" if key is not None else None
        if key is None and self._store is not None:  # no product key: keyed by what it shows
            data_key = self._shown_key(document, tail, "shown-data")
            text = self._store.get(data_key)
            if text is not None:
                self.reused += 1
                return text
        self.rendered += 1
        try:
            text = card_json(document, self._flagged.get(document.get("product_id"), ()))
        except Exception as exc:  # one product's card must not lose the report
            log.error("report: the card of %s: %s", document.get("product_id"), exc, exc_info=True)
            return broken_card_json(document, f"{type(exc).__name__}: {exc}")
        self._keep(data_key, text)
        return text

    def ranks(self, first: int, end: int) -> list[Any]:
        """The ranks of the products at `first` to `end`."""
        return list(self._ranks[first:end])

    def card(self, index: int) -> Markup:
        """The whole card of the product at `index` (looked up a page at a time)."""
        first, page = self._page
        if not first <= index < first + len(page):
            first = index
            page = self.cards(first, min(first + PIECE_BATCH, len(self._keys)))
            self._page = (first, page)
        return page[index - first]

    # ------------------------------------------------------------------ audit.json

    def json_lines(self, first: int, end: int) -> list[str]:
        """The audit.json lines (JSON, one line each) of the products at `first` to `end`."""
        self._flush()  # the lines made with the cards
        keys = [self._keys[i] for i in range(first, end)]
        lines: list[str | None] = [self._lines.pop(i, None) for i in range(first, end)]
        wanted = [f"{k}:json" for k, line in zip(keys, lines, strict=True) if k and not line]
        found = iter(self._store.get_many(wanted)) if self._store is not None else iter(())
        for n, (key, line) in enumerate(zip(keys, lines, strict=True)):
            if key and not line:
                tail = next(found)
                if tail is not None:
                    self.lines_reused += not self._line_made[first + n]
                    lines[n] = f'{{"rank": {_rank_text(self._ranks[first + n])}, {tail}'
        missing = [first + n for n, line in enumerate(lines) if line is None]
        for index, document in self._documents(missing).items():
            line = self._line(document)
            lines[index - first] = line
            prefix = f'{{"rank": {_rank_text(document.get("rank"))}, '
            if keys[index - first] is not None and line.startswith(prefix):
                self._keep(f"{keys[index - first]}:json", line[len(prefix) :])
                self._line_made[index] = 1
        return [line for line in lines if line is not None]

    def close(self, *, prune: bool = True) -> None:
        """Save the cache (and, with `prune`, drop the pieces this run did not use)."""
        if self._store is not None:
            self._flush()
            self._store.close(prune=prune)
            self._store = None


def _broken_card(product: Mapping[str, Any], exc: Exception) -> Markup:
    """A card's body when it could not be rendered: says so, and where the data is."""
    reason = escape(f"{type(exc).__name__}: {exc}")
    return Markup(
        f'<p class="empty">This card could not be built (internal error: {reason}); '
        "the product's data is in audit.json.</p>\n"
    )
