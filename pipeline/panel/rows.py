"""Rows: a line split into name and values, lines grouped into rows, blend members and
their parents (step 4 of the reader)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from pipeline.panel.cells import (
    _cell_text,
    _cell_x,
    _cells,
    _Entry,
    _Item,
    _Layout,
    _LineRead,
    _parse_cell,
    _row_pitch,
    _trailing_amount_start,
)
from pipeline.panel.geometry import _Line
from pipeline.panel.grammar import (
    _BASE_UNIT,
    _BLEND_RE,
    _CONNECTOR_END_RE,
    _HAS_DIGIT,
    _MARK_RE,
    _MARKS,
    _NUM,
    _NUTRITION_ROW_RE,
    _SOURCE_PAREN_RE,
    _UNIT,
)
from pipeline.panel.settings import _CELL_GAP, _INDENT, _S
from pipeline.panel.text import stray_words
from pipeline.records import Word


def split_name(text: str) -> tuple[str, str | None, str | None]:
    """(name, form, marker) from a printed ingredient name.

    "(as ...)"/"(from ...)" parentheses give the form; other parentheses stay in the
    name; a trailing footnote marker ("Royal Jelly†") is returned separately.
    """
    marker = None
    m = re.search(rf"\s*({_MARKS})$", text)
    if m:
        marker = m.group(1)
        text = text[: m.start()]
    name_parts: list[str] = []
    forms: list[str] = []
    depth = 0
    start = 0
    buf = ""
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
                name_parts.append(buf)
                buf = ""
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                inner = text[start + 1 : i].strip()
                if _SOURCE_PAREN_RE.match(inner):
                    forms.append(_SOURCE_PAREN_RE.sub("", inner).strip())
                else:
                    name_parts.append(text[start : i + 1])
            continue
        if depth == 0:
            buf += ch
    if depth > 0:  # an unclosed parenthesis: keep it as printed
        buf += text[start:]
    name_parts.append(buf)
    name = re.sub(r"\s+", " ", "".join(name_parts)).strip()
    name = re.sub(r"\s+([,.;:])", r"\1", name).strip(" ,;:")
    form = ", ".join(f for f in forms if f) or None
    return name, form, marker


def _split_members(text: str) -> list[str]:
    """A comma-separated member list split at commas outside parentheses. When the
    parentheses do not balance (a ")" lost in reading: "Banaba (Leaf (Lagerstroemia),
    Yarrow"), a "(" opened inside another closes it: the commas after are split at."""
    nest = text.count("(") == text.count(")")
    parts: list[str] = []
    depth = 0
    buf = ""
    for ch in text:
        if ch == "(":
            depth = depth + 1 if nest else 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append(buf.strip())
            buf = ""
        else:
            buf += ch
    parts.append(buf.strip().rstrip("."))
    return [p for p in parts if p]


#: A blend member that prints its own amount in parentheses after its name, in running
#: text: "Caffeine Anhydrous (300mg)".
_MEMBER_AMOUNT_RE = re.compile(
    rf"^(?P<name>.*?[A-Za-z0-9)\]])\s*\(\s*(?P<amount>(?:<\s*)?(?:{_NUM})\s*(?:{_UNIT}))\s*\)$",
    re.IGNORECASE,
)


def member_amount(member: str) -> tuple[str, str | None]:
    """A blend member as (its name, the amount it prints in parentheses after its name or
    None): "Caffeine Anhydrous (300mg)" -> ("Caffeine Anhydrous", "300mg")."""
    m = _MEMBER_AMOUNT_RE.match(member.strip())
    return (m.group("name"), m.group("amount")) if m else (member, None)


#: A nutrition panel's "Includes 3g Added Sugars" (FDA format): the amount printed inside
#: the name, the nutrient after it.
_INCLUDES_RE = re.compile(
    rf"^includes\s+(?P<amount>(?:{_NUM})\s*(?:{_BASE_UNIT}))\s+(?P<name>added\s+sugars?)$",
    re.IGNORECASE,
)
_INLINE_BLEND_RE = re.compile(
    rf"^(?P<name>[^:]*?[A-Za-z)][^:]*?)\s+"
    rf"(?P<amount>(?:<\s*)?(?:{_NUM})\s*(?:{_UNIT}))\s*:\s*(?P<members>.+)$",
    re.IGNORECASE,
)
_NO_AMOUNT_RE = re.compile(r"^(?:NP|N/?A|not\s+present|[—–-])$", re.IGNORECASE)


def _running_text(name_words: Sequence[Word], value_words: Sequence[Word], h: float) -> bool:
    """Words in the value columns that continue running text (a blend's members set over
    the panel's width): no digit, no %DV mark, set a space after the name words."""
    text = " ".join(w.text for w in value_words)
    if _NO_AMOUNT_RE.match(text) or not re.search(r"[A-Za-z]{2}", text):
        return False
    if any(
        _HAS_DIGIT.search(w.text) or "%" in w.text or _MARK_RE.fullmatch(w.text)
        for w in value_words
    ):
        return False
    return not name_words or value_words[0].x0 - name_words[-1].x1 < _CELL_GAP * h


def _read_line(line: _Line, layout: _Layout, name_left: float) -> _LineRead:
    words = line.words
    h = line.height
    if layout.value_left is not None:
        left = layout.value_left - _S.value_left_slack * h
        split = next((i for i, w in enumerate(words) if w.x0 >= left), len(words))
    else:
        start = _trailing_amount_start(words)
        split = start if start is not None else len(words)
    name_words, value_words = list(words[:split]), list(words[split:])
    if value_words and _running_text(name_words, value_words, h):
        name_words, value_words = name_words + value_words, []  # blend members as text
    if value_words and _parse_cell(_cell_text(_cells(value_words)[0]), 0.0) is None:
        # a garbled amount may start left of the column (right-aligned, wider)
        while (
            len(name_words) > 1
            and _HAS_DIGIT.search(name_words[-1].text)
            and value_words[0].x0 - name_words[-1].x1 < _CELL_GAP * h
        ):
            value_words.insert(0, name_words.pop())
    alone = (
        _parse_cell(" ".join(w.text for w in name_words), name_words[0].x0) if name_words else None
    )
    if alone and any(i.kind == "amount" and i.unit for i in alone):
        # a line that is only an amount ("9240mg †" under a blend's name), left of
        # the value column: values, not a name
        name_words, value_words = [], name_words + value_words
    items: list[_Item] = []
    bad: str | None = None
    for cell in _cells(value_words):
        text = _cell_text(cell)
        parsed = _parse_cell(text, _cell_x(cell))
        if parsed is None and any(i.kind == "amount" for i in items) and stray_words(cell):
            continue  # a speck after the amount, read as letters at low confidence
        if parsed is None:
            if bad is None:
                bad = text
            continue
        low = min((w.confidence for w in cell if w.confidence is not None), default=None)
        guessed = low is not None and low < _S.amount_confidence
        if guessed and any(i.kind == "amount" for i in parsed):
            # OCR's own guess, not a reading ("11mg" at 0% for "1 mg"): never taken
            if bad is None:
                bad = f"{text} (read with confidence {low or 0:.0f}%)"
            continue
        items.extend(parsed)
    no_amount = not any(i.kind == "amount" for i in items)
    if bad is None and layout.value_left is None and not items and name_words:
        # no column layout: a garbled amount at the end of the line
        last = name_words[-1]
        if _HAS_DIGIT.search(last.text) and re.search(rf"(?:{_BASE_UNIT})$", last.text, re.I):
            bad = last.text
            name_words = name_words[:-1]
    if bad is None and no_amount and name_words:
        cells = _cells(name_words)
        if len(cells) >= 2 and _HAS_DIGIT.search(_cell_text(cells[1])):
            # values after a wide gap, left of the first value column: amounts, or
            # a garbled amount when they read as nothing
            trailing = [_parse_cell(_cell_text(c), _cell_x(c)) for c in cells[1:]]
            if all(t is not None for t in trailing):
                items = [i for t in trailing if t for i in t] + items
            else:
                bad = " ".join(_cell_text(c) for c in cells[1:])
            name_words = list(cells[0])
    indent = (name_words[0].x0 - name_left) if name_words else 0.0
    return _LineRead(line, name_words, items, bad, indent)


#: A line that goes on a name rather than starting a list: "of Herbs, Spices and Roots".
_NAME_GOES_ON_RE = re.compile(r"^(?:of|and|or|with|from|in|plus|for|&)\b")


def reads_as_list(text: str) -> bool:
    """`text` is (part of) a comma-separated list: two items or more, or one that ends in
    a comma (the list goes on on the next line)."""
    return len(_split_members(text)) >= 2 or text.rstrip().endswith(",")


def _blend_total(entry: _Entry) -> bool:
    """A blend's name with its amount (not "Blend 415 mg: A, B", which lists its members
    after a colon)."""
    text = entry.name_text
    return entry.has_amount and bool(_BLEND_RE.search(text)) and not _INLINE_BLEND_RE.match(text)


def _starts_members(prev: _Entry, read: _LineRead) -> bool:
    """`read` is the first line of a blend's members printed as a comma-separated paragraph
    under the blend's total (indented or not, however close under it): not the blend's
    name going on ("Proprietary Blend of Herbs" / "and Spices", "Blend (as" / "A, B)")."""
    if read.has_amount or not read.name_words or not _blend_total(prev):
        return False
    if prev.open_paren or _CONNECTOR_END_RE.search(prev.name_text):
        return False
    first = read.name_words[0].text
    if first[:1] in "()" or _NAME_GOES_ON_RE.match(first):
        return False
    return reads_as_list(read.name)


def _members_go_on(members: _Entry, read: _LineRead, tol: float) -> bool:
    """`read` goes on with the member paragraph `members` at any spacing: a line without an
    amount, aligned with the paragraph or hanging, after a line that ends in a comma or
    itself reading as a list (a member wrapped mid-name joins the one it belongs to:
    "White" / "Mulberry (Leaf), L-Taurine"). A period ends the paragraph. (A line that is
    neither, "Vitamin C" with its amount on the next line, goes on with it only as any
    line does: set close under it, or opening with a parenthesis.)"""
    text = members.name_text.rstrip()
    if read.has_amount or not read.name_words or text.endswith("."):
        return False
    if read.indent < members.reads[0].indent - tol:
        return False
    return text.endswith(",") or reads_as_list(read.name)


def _group_entries(reads: list[_LineRead]) -> list[_Entry]:
    pitches = [
        b.line.top - a.line.top
        for a, b in itertools.pairwise(reads)
        if a.line.page == b.line.page and b.line.top > a.line.top
    ]
    pitch = _row_pitch(pitches)
    entries: list[_Entry] = []
    flat_list = False  # after a blend total: a list of members without amounts
    members: _Entry | None = None  # a blend's members printed as a paragraph
    for read in reads:
        h = read.line.height
        tol = _INDENT * h
        prev = entries[-1] if entries else None
        if prev is not None and not read.name_words:
            # a line of values only (an amount set between two name lines)
            target = prev if not prev.has_amount else None
            if target is not None:
                target.reads.append(read)
                if (
                    read.has_amount
                    and target.reads[0].indent <= tol
                    and _BLEND_RE.search(target.name_text)
                ):
                    flat_list = True  # a blend total: its members follow unindented
                continue
        if prev is not None and prev is members and _members_go_on(prev, read, tol):
            prev.reads.append(read)
            continue
        if prev is not None and _starts_members(prev, read):
            members = _Entry([read], indent=read.indent)
            entries.append(members)
            continue
        if prev is not None:
            last = prev.reads[-1]
            same_page = last.line.page == read.line.page
            tight = same_page and pitch > 0 and read.line.top - last.line.top < 0.8 * pitch
            prev_first = prev.reads[0]
            aligned_or_hanging = read.indent >= prev_first.indent - tol
            cont = False
            starts_paren = bool(read.name_words) and read.name_words[0].text[:1] in "()"
            name_goes_on = (  # "Energy Blend 300 mg" / "of Teas and Berries"
                _blend_total(prev)
                and bool(read.name_words)
                and bool(_NAME_GOES_ON_RE.match(read.name_words[0].text))
            )
            if (
                prev.open_paren
                or _CONNECTOR_END_RE.search(prev.name_text)
                or starts_paren
                or name_goes_on
                or (tight and aligned_or_hanging)
            ):
                cont = True
            elif not prev.has_amount and read.has_amount:
                # a name printed without an amount, its amount on the next line:
                # only for a top-level name (not a blend member or a blend total)
                cont = (
                    abs(read.indent - prev_first.indent) <= tol
                    and prev_first.indent <= tol
                    and not flat_list
                    and not _BLEND_RE.search(prev.name_text)
                    and not _NUTRITION_ROW_RE.fullmatch(prev.name_text)
                    and not _NUTRITION_ROW_RE.fullmatch(read.name)
                )
            elif (
                prev.has_amount
                and not read.has_amount
                and abs(read.indent - prev_first.indent) <= tol
                and not _BLEND_RE.search(prev.name_text)
            ):
                first = read.name_words[0].text
                cont = first[:1].islower() or first.startswith(")")
            if (
                not cont
                and not read.has_amount
                and _INLINE_BLEND_RE.match(prev.name_text)
                and not prev.name_text.rstrip().endswith(".")
            ):
                cont = True  # the members of "Blend 415 mg: A, B," run on
            if cont and read.has_amount and prev.has_amount:
                cont = False
            if cont:
                prev.reads.append(read)
                continue
        entries.append(_Entry([read], indent=read.indent))
        if read.has_amount or read.indent > tol:
            flat_list = (
                read.has_amount and read.indent <= tol and bool(_BLEND_RE.search(read.name))
            ) or (flat_list and read.indent > tol)
    return entries


def _assign_parents(entries: list[_Entry]) -> list[tuple[_Entry, str | None, bool, bool]]:
    """(entry, parent, is a blend total, is a member of a non-indented list) in order."""
    out: list[tuple[_Entry, str | None, bool, bool]] = []
    stack: list[tuple[float, str, int]] = []  # (indent, name, index in out)
    flat_blend: str | None = None  # a blend total whose members are not indented
    flat_at = 0  # its index in out
    for entry in entries:
        name, _, _ = split_name(entry.name_text)
        h = entry.reads[0].line.height
        while stack and stack[-1][0] >= entry.indent - _INDENT * h:
            stack.pop()
        parent = stack[-1][1] if stack else None
        flat = False
        if parent is not None:
            idx = stack[-1][2]
            prev_entry, prev_parent, _, prev_flat = out[idx]
            out[idx] = (prev_entry, prev_parent, True, prev_flat)
        if parent is None and not entry.has_amount and flat_blend is not None:
            parent = flat_blend
            flat = True
        if parent is None and entry.has_amount:
            flat_blend = name if _BLEND_RE.search(name) else None
            flat_at = len(out)
        out.append((entry, parent, False, flat))
        if flat and flat_blend is not None and reads_as_list(entry.name_text):
            # a paragraph of members: a row indented under it is the blend's
            stack.append((entry.indent, flat_blend, flat_at))
        else:
            stack.append((entry.indent, name, len(out) - 1))
    return out
