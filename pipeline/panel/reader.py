"""The panel reader: finds the panels among the lines and builds the labels, rows and read
issues (`words_to_labels`). Every `LabelRow` is built in `_Reader._row`."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections.abc import Mapping, Sequence

from pipeline.panel.cells import (
    _Column,
    _Entry,
    _Item,
    _Layout,
    _layout,
    _parse_cell,
    _place_amounts,
    _place_dv,
    _split_line,
    _under_dv,
    column_gutters,
    serving_column,
)
from pipeline.panel.geometry import Box, _height, _Line, drop_leaders, group_lines, page_blocks
from pipeline.panel.grammar import _HAS_DIGIT, _SERVING_SIZE_RE, _SERVINGS_PER_RE, _STATEMENT_RE
from pipeline.panel.ocr_doubts import ocr_doubt
from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE, check_dv
from pipeline.panel.rows import (
    _INCLUDES_RE,
    _INLINE_BLEND_RE,
    _assign_parents,
    _group_entries,
    _read_line,
    _split_members,
    member_amount,
    split_name,
)
from pipeline.panel.settings import _END_GAP, _S
from pipeline.panel.text import (
    _AMOUNT_IN_TEXT,
    _footnotes,
    _is_footnote,
    _is_header_line,
    _is_heading,
    _Panel,
    _row_like,
    _serving,
    _statements,
    _title,
    beside_group,
    stray_words,
)
from pipeline.records import Label, LabelRow, ReadIssue, Word, bbox_fields
from pipeline.units import ambiguous_among_decimal_commas, shows_decimal_comma


class _Reader:
    def __init__(
        self,
        pages: Sequence[Sequence[Word]],
        source_file: str,
        fallback_name: str,
        source_format: str,
        graphics: Sequence[Sequence[Box]] | None = None,
    ) -> None:
        self.source_file = source_file
        self.fallback_name = fallback_name
        self.source_format = source_format
        self.repairs: Mapping[Word, str] = {}  # OCR repairs by word (pipeline.sources.ocr)
        self.lines: list[_Line] = []
        self.bars: dict[int, list[Box]] = {}  # flat graphics by page: separators, not gaps
        self.vrules: dict[int, list[Box]] = {}  # vertical rules by page: may part column groups
        region_id = 0
        for page_no, words in enumerate(pages, start=1):
            boxes = graphics[page_no - 1] if graphics and page_no <= len(graphics) else ()
            self.bars[page_no] = [b for b in boxes if b.height < b.width]
            page_h = statistics.median(_height(w) for w in words) if words else 1.0
            self.vrules[page_no] = [
                b for b in boxes if b.width < _S.rule_width * page_h and b.height > b.width
            ]
            for block, region in page_blocks(drop_leaders(words), boxes):
                region_id += region is not None
                for ws in group_lines(block):
                    self.lines.append(
                        _Line(
                            ws,
                            ws[0].page if ws[0].page else page_no,
                            region_id if region is not None else None,
                            bool(region and region.boxed),
                        )
                    )
        self.labels: list[Label] = []
        self.rows: list[LabelRow] = []
        self.issues: list[ReadIssue] = []

    # -- panels --

    def _find_panels(self) -> list[_Panel]:
        panels: list[_Panel] = []
        pos = 0
        n = len(self.lines)
        while pos < n:
            is_head, continued = _is_heading(self.lines[pos])
            if not is_head:
                pos += 1
                continue
            heading = self.lines[pos]
            if continued and panels:
                panel = panels[-1]
            else:
                panel = _Panel(len(panels), [], [], pos, pos + 1)
                panels.append(panel)
            if heading.page not in panel.pages:
                panel.pages.append(heading.page)
            pos = self._read_panel_lines(panel, pos + 1, heading)
        return panels

    def _read_panel_lines(self, panel: _Panel, pos: int, heading: _Line) -> int:
        n = len(self.lines)
        left = heading.x0
        right = heading.x1
        in_pre = not panel.lines
        body_heights: list[float] = []
        prev: _Line | None = heading
        region = heading.region
        while pos < n:
            line = self.lines[pos]
            if _is_heading(line)[0] or line.region != region:
                break
            text = line.text
            nxt = self.lines[pos + 1] if pos + 1 < n else None
            if (
                in_pre
                and nxt is not None
                and nxt.region == region
                and _is_header_line(nxt)
                and stray_words(line.words)
            ):
                pos += 1  # a rule or a speck read as a short word above the column headings
                continue
            if in_pre and _is_header_line(line):
                panel.headers.append(line)
            elif (
                in_pre
                and nxt is not None
                and nxt.region == region
                and _is_header_line(nxt)
                and not _AMOUNT_IN_TEXT.search(text)
                and not _SERVING_SIZE_RE.match(text)
                and not _SERVINGS_PER_RE.match(text)
                and line.x0 > left + _S.wrapped_header_indent * line.height
                and nxt.top - line.bottom <= _S.wrapped_header_gap * line.height
            ):
                panel.headers.append(line)  # the first line of a heading wrapped: "Per 2"
            elif (
                in_pre
                and panel.headers
                and prev is panel.headers[-1]
                and not _HAS_DIGIT.search(text)
                and line.x0 > left + 2.0 * line.height
                and line.top - prev.bottom <= 0.8 * line.height
            ):
                panel.headers.append(line)  # a column heading wrapped: "Amount Per" "Serving"
            if in_pre and (
                _SERVING_SIZE_RE.match(text)
                or _SERVINGS_PER_RE.match(text)
                or (panel.headers and panel.headers[-1] is line)
            ):
                panel.pre.append(line)
                right = max(right, line.x1)
                left = min(left, line.x0)  # under a centred heading
                prev = line
                pos += 1
                continue
            if _is_footnote(line) and beside_group(
                line, nxt if nxt is not None and nxt.region == region else None, left
            ):
                panel.side_notes.append(line)  # under the right group; the left one goes on
                pos += 1
                continue
            if _STATEMENT_RE.match(text) or _is_footnote(line):
                break
            ref_h = statistics.median(body_heights) if body_heights else heading.height * 0.8
            if (
                not line.boxed
                and prev is not None
                and line.page == prev.page
                and line.top - prev.bottom > _END_GAP * max(ref_h, line.height)
                and not self._bar_between(line.page, prev.bottom, line.top)
            ):
                break
            tol = _S.panel_edge * line.height
            if (
                not line.boxed
                and body_heights
                and line.height > _S.taller_line * ref_h
                and not _row_like(line, left, right, ref_h)
            ):
                break
            if not line.boxed and (
                line.x0 < left - tol or (line.x1 > right + tol and body_heights)
            ):
                if abs(line.x0 - left) <= tol and _AMOUNT_IN_TEXT.search(line.text):
                    panel.cut_at = line  # starts like a panel row: text beside the panel?
                break
            in_pre = False
            panel.lines.append(line)
            body_heights.append(line.height)
            right = max(right, line.x1)
            if line.page not in panel.pages:
                panel.pages.append(line.page)
            prev = line
            pos += 1
        panel.end_pos = pos
        return pos

    def _bar_between(self, page: int, top: float, bottom: float) -> bool:
        """A bar or rule lies in the vertical gap from `top` to `bottom` (a separator)."""
        return any(top - 1 <= b.top and b.bottom <= bottom + 1 for b in self.bars.get(page, []))

    # -- rows --

    def _groups(self, panel: _Panel) -> list[tuple[list[_Line], list[_Line]]]:
        """The panel's column groups, left to right: (heading lines, row lines) of each."""
        rules = []
        if panel.lines:
            top, bottom = panel.lines[0].top, panel.lines[-1].bottom
            rules = [
                (b.x0 + b.x1) / 2
                for b in self.vrules.get(panel.lines[0].page, [])
                if b.top <= top + panel.lines[0].height
                and b.bottom >= bottom - panel.lines[-1].height
            ]
        edges = [-1e9, *column_gutters([ln.words for ln in panel.lines], rules), 1e9]
        if len(edges) == 2:
            return [(panel.headers, panel.lines)]
        out = []
        for lo, hi in itertools.pairwise(edges):
            headers = [p for ln in panel.headers if (p := _split_line(ln, lo, hi))]
            parts = [p for ln in panel.lines if (p := _split_line(ln, lo, hi))]
            if not parts:
                continue
            # the group's own lines: rows of two groups need not be level with each other
            first = parts[0]
            lines = [
                dataclasses.replace(first, words=ws, page=page)
                for page in sorted({p.page for p in parts})
                for ws in group_lines([w for p in parts if p.page == page for w in p.words])
            ]
            out.append((headers, lines))
        return out

    def _read_panel(self, panel: _Panel) -> None:
        groups = self._groups(panel)
        entries: list[_Entry] = []
        layouts: list[_Layout] = []
        for headers, lines in groups:
            layout = _layout(headers, lines)
            name_left = min(
                (ln.x0 for ln in lines if ln.x0 < (layout.value_left or 1e9)),
                default=0.0,
            )
            reads = [_read_line(ln, layout, name_left) for ln in lines]
            for entry in _group_entries(reads):
                entry.layout = layout
                entries.append(entry)
            layouts.append(layout)
        layout = layouts[0] if layouts else _Layout([], None)
        amount_cols = layout.amount_cols
        serving_size, servings = _serving(panel, layout)
        label_index = len(self.labels)
        heads = [c.text for c in amount_cols]
        per_serving = 0 if len(heads) < 2 else serving_column(heads, serving_size)
        if per_serving is None:
            self._issue(
                label_index,
                panel.pages[0] if panel.pages else None,
                None,
                f"page {panel.pages[0] if panel.pages else '?'}: two amount columns "
                f"({' | '.join(heads)}) and the headings do not say which is per serving "
                f"(serving size {serving_size or 'not printed'}): their amounts were not taken",
                blocks_verdict=True,
            )
        comma_panel = any(
            shows_decimal_comma(i.amount) for e in entries for i in e.items if i.amount
        )
        line_no = 0
        confidences: list[float] = []
        for entry, parent, is_total, flat in _assign_parents(entries):
            e_layout = entry.layout or layout
            amount_cols = e_layout.amount_cols
            dv_cols = e_layout.dv_cols
            raw = " ".join(r.line.text for r in entry.reads)
            page = entry.reads[0].line.page
            conf_values = [
                w.confidence for r in entry.reads for w in r.line.words if w.confidence is not None
            ]
            confidences.extend(conf_values)
            name, form, marker = split_name(entry.name_text)
            amounts = [i for i in entry.items if i.kind == "amount"]
            includes = _INCLUDES_RE.match(name) if len(amount_cols) < 2 else None
            if includes is not None and not amounts:
                # "Includes 3g Added Sugars": the nutrient, its amount printed in its name
                amounts = [i for i in _parse_cell(includes.group("amount"), 0.0) or []]
                name = includes.group("name")
            inline = None if amounts else _INLINE_BLEND_RE.match(entry.name_text)
            if inline is not None:
                # "Proprietary Blend 415 mg: Guggul, Bitter Melon": the total, then
                # members without amounts
                parsed = _parse_cell(inline.group("amount"), 0.0) or []
                blend = split_name(inline.group("name"))[0]
                total = next((i for i in parsed if i.kind == "amount"), None)
                for k, member in enumerate(["", *_split_members(inline.group("members"))]):
                    line_no += 1
                    m_name, m_form, m_marker = split_name(member) if k else (blend, None, None)
                    self._row(
                        entry,
                        label_index,
                        line_no,
                        name=m_name,
                        amount=total if total and not k else None,
                        dv=m_marker,
                        form=m_form,
                        parent=blend if k else parent,
                    )
                continue
            dvs = [i for i in entry.items if i.kind == "dv"]
            under_dv = [i for i in amounts if i.unit is None and _under_dv(i, e_layout.columns)]
            if under_dv:
                # a bare number under the % Daily Value heading is a %DV, not an amount
                amounts = [i for i in amounts if i not in under_dv]
                dvs = [*dvs, *(_Item("dv", i.x, dv=f"{i.amount}%") for i in under_dv)]
                dvs.sort(key=lambda i: i.x)
            first, second = _place_amounts(amounts, amount_cols)
            dv = _place_dv(dvs, dv_cols, amount_cols, per_serving or 0)
            if per_serving == 1:
                first, second = second, first
            elif per_serving is None:
                first = second = None
                dv = None
            if dv is None and marker is not None:
                dv = marker
            bad = entry.bad
            for item, col in ((first, 0), (second, 1)):
                if item is not None and item.unit is None and len(amount_cols) > col:
                    slot = col if per_serving != 1 else 1 - col
                    item.unit = amount_cols[min(slot, len(amount_cols) - 1)].unit
            if (
                bad is None
                and comma_panel
                and first is not None
                and first.amount
                and ambiguous_among_decimal_commas(first.amount)
            ):
                bad = f"{first.amount} {first.unit or ''}".strip()
                bad += " (decimal commas elsewhere on the panel: 1,250 could be 1.25 or 1250)"
                first = None
            doubt = fix = None  # fix: the amount its printed %DV repaired (panel.ocr_dv)
            if bad is None and first is not None and first.amount and "ocr" in self.source_format:
                doubt = ocr_doubt(first.amount, first.unit, name)
                pair = (second.amount, second.unit) if second else (None, None)
                found = None if doubt else check_dv(first.amount, first.unit, dv, name, pair)
                if found is not None:
                    doubt = found.doubt
                    if found.amount is not None:
                        first, fix = dataclasses.replace(first, amount=found.amount), found.repair
            if doubt is not None and first is not None:
                bad = f"{first.amount} {first.unit or ''}".strip() + f" ({doubt})"
                first = None
            members = [name]
            if (flat or (parent is not None and first is None and second is None)) and (
                "," in name or form is not None
            ):
                members = _split_members(entry.name_text)
            for member in members:
                line_no += 1
                own = None  # a member's amount in parentheses: "Caffeine Anhydrous (300mg)"
                if len(members) > 1 and first is None:
                    member, printed = member_amount(member)
                    own = _parse_cell(printed, 0.0) if printed else None
                m_name, m_form, m_marker = (
                    (name, form, marker) if len(members) == 1 else split_name(member)
                )
                self._row(
                    entry,
                    label_index,
                    line_no,
                    name=m_name,
                    amount=own[0] if own else first,
                    dv=dv if len(members) == 1 else m_marker,
                    form=m_form,
                    parent=parent,
                    second=second,
                    alt_amounts=first.alt if first else None,
                    fix=fix,
                )
            where = f"page {page}, line {line_no}"
            if bad is not None:
                self._issue(
                    label_index,
                    page,
                    line_no,
                    unread_amount(where, bad, name),
                )
            elif per_serving is None:
                pass
            elif first is None and second is None and parent is None and not is_total:
                self._issue(
                    label_index,
                    page,
                    line_no,
                    f"{where}: no amount found for '{name}' (read as '{raw}')",
                )
        if panel.cut_at is not None:
            cut = panel.cut_at
            self._issue(
                label_index,
                cut.page,
                line_no + 1,
                f"page {cut.page}: the panel stops at '{cut.text}', which runs past the panel's "
                "right edge: lines after it were not read (a panel continued in a second column, "
                "or text printed beside the panel?)",
            )
        panel_conf = statistics.mean(confidences) if confidences else None
        self._make_label(panel, layout.amount_cols, serving_size, servings, panel_conf)

    # -- label text --

    def _make_label(
        self,
        panel: _Panel,
        amount_cols: list[_Column],
        serving_size: str | None,
        servings: str | None,
        confidence: float | None,
    ) -> None:
        headings = None
        if len(amount_cols) >= 2:
            headings = " | ".join(c.text for c in amount_cols)
        pages = sorted(set(panel.pages))
        pages_text = str(pages[0]) if len(pages) == 1 else f"{pages[0]}-{pages[-1]}"
        self.labels.append(
            Label(
                source_file=self.source_file,
                label_index=len(self.labels),
                product_name="",
                serving_size=serving_size,
                servings_per_container=servings,
                source_format=self.source_format,
                pages=pages_text,
                amount_columns=headings,
                ocr_confidence=confidence,
            )
        )

    def _row(
        self,
        entry: _Entry,
        label_index: int,
        line_no: int,
        *,
        name: str,
        amount: _Item | None,
        dv: str | None,
        form: str | None,
        parent: str | None,
        second: _Item | None = None,
        alt_amounts: str | None = None,
        fix: str | None = None,
    ) -> None:
        """Add one panel row read from `entry`: every `LabelRow` is built here. `fix`: its
        amount repaired from its %DV, which caps its confidence at REPAIRED_CONFIDENCE."""
        conf_values = [
            w.confidence for r in entry.reads for w in r.line.words if w.confidence is not None
        ]
        fixes = [self.repairs[w] for r in entry.reads for w in r.line.words if w in self.repairs]
        if fix is not None:
            fixes.append(fix)
            conf_values.append(REPAIRED_CONFIDENCE)
        page = entry.reads[0].line.page
        box = bbox_fields(w for r in entry.reads for w in r.line.words if w.page == page)
        self.rows.append(
            LabelRow(
                source_file=self.source_file,
                label_index=label_index,
                line_no=line_no,
                name_raw=name,
                amount_raw=amount.amount if amount else None,
                unit_raw=amount.unit if amount else None,
                dv_raw=dv,
                form_raw=form,
                parent=parent,
                amount_alt_raw=second.amount if second else None,
                unit_alt_raw=second.unit if second else None,
                alt_amounts_raw=alt_amounts,
                page=page,
                raw_text=" ".join(r.line.text for r in entry.reads),
                confidence=min(conf_values) if conf_values else None,
                repairs="; ".join(fixes) or None,
                **box,
            )
        )

    def read(self) -> None:
        panels = self._find_panels()
        for panel in panels:
            self._read_panel(panel)
        for i, panel in enumerate(panels):
            next_start = panels[i + 1].heading_pos if i + 1 < len(panels) else len(self.lines)
            tail = self.lines[panel.end_pos : next_start]
            statements, _ = _statements(tail)
            if len(panels) == 1:
                # one product: its statements are wherever they stand (a wrap prints
                # directions and warnings in another column, before or after the panel)
                before, _ = _statements(self.lines[: panel.heading_pos])
                for kind, texts in before.items():
                    statements[kind] = [t for t in texts if t not in statements[kind]] + statements[
                        kind
                    ]
            if i == 0:
                head = self.lines[: panel.heading_pos]
            else:
                prev = panels[i - 1]
                prev_tail = self.lines[prev.end_pos : panel.heading_pos]
                _, head = _statements(prev_tail)
            heights = [ln.height for ln in panel.lines] or [1.0]
            title, brand = _title(head, statistics.median(heights))
            label = self.labels[i]
            self.labels[i] = Label(
                **{
                    **label.__dict__,
                    "product_name": title or self.fallback_name,
                    "brand": brand if title else None,
                    "other_ingredients": " ".join(statements["other"]),
                    "directions": " ".join(statements["directions"]),
                    "warnings": " ".join(statements["warnings"]),
                    "footnotes": " ".join(
                        t for t in (*(n.text for n in panel.side_notes), _footnotes(tail)) if t
                    ),
                }
            )

    def _issue(
        self,
        label_index: int,
        page: int | None,
        line_no: int | None,
        detail: str,
        *,
        blocks_verdict: bool = False,
    ) -> None:
        self.issues.append(
            ReadIssue(self.source_file, label_index, page, line_no, detail, blocks_verdict)
        )


def unread_amount(where: str, read: str, name: str) -> str:
    """The read issue of an amount not taken: "page 1, line 4: amount '75 mg (...)' of
    'Zinc' could not be read"."""
    return f"{where}: amount '{read}' of '{name}' could not be read"


def words_to_labels(
    pages: Sequence[Sequence[Word]],
    source_file: str,
    *,
    fallback_name: str,
    source_format: str,
    repairs: Mapping[Word, str] | None = None,
    graphics: Sequence[Sequence[Box]] | None = None,
) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    """The labels, panel rows and read issues in the positioned words of a document.

    `pages` holds the words of each page in page order. No "Supplement Facts" heading
    gives three empty lists (the caller decides what that means). `repairs` maps a
    word to the OCR repair made to it ("meg->mcg"): a row's `repairs` lists those of
    its words, joined with "; ". `graphics` holds the boxes, bars and rules of each page
    (`Box`, in the words' coordinates; none when omitted): they bound the panels and
    separate rows, never end a panel early.
    """
    reader = _Reader(pages, source_file, fallback_name, source_format, graphics)
    reader.repairs = repairs or {}
    reader.read()
    return reader.labels, reader.rows, reader.issues
