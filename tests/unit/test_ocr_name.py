"""The product name read from the biggest text on a label image (`pipeline.sources.ocr_name`):
rows of big letters found on synthetic ink masks, and which row's reading is a name (no
OCR run, no image file)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.errors import UnreadableFile
from pipeline.records import FileExtraction, Label, Word
from pipeline.sources.ocr_name import (
    TextRow,
    big_text_rows,
    is_name,
    join_lines,
    name_text,
    pick_name,
    row_image,
    row_ink,
    stacked,
    with_big_name,
)
from pipeline.sources.ocr_prep import ink_components
from pipeline.sources.ocr_words import OcrWord


def _ink(
    letters: list[tuple[int, int, int, int]], shape: tuple[int, int] = (300, 600)
) -> np.ndarray:
    """An ink mask with a filled block (x0, top, x1, bottom) for each letter."""
    ink = np.zeros(shape, dtype=bool)
    for x0, top, x1, bottom in letters:
        ink[top:bottom, x0:x1] = True
    return ink


def _body_text(top: int) -> list[tuple[int, int, int, int]]:
    """A line of small text (6 px letters, 5 px wide, 2 px apart) from x=20 to x=300."""
    return [(x, top, x + 5, top + 6) for x in range(20, 300, 7)]


def _logo() -> list[tuple[int, int, int, int]]:
    """A row of five 40 px letters (30 wide, 6 apart) from x=320, top 100, and an
    x-height letter (22 px) after them."""
    big = [(320 + 36 * i, 100, 350 + 36 * i, 140) for i in range(5)]
    return [*big, (500, 118, 520, 140)]


def test_big_row_found_and_grown_by_its_small_letter() -> None:
    comps = ink_components(_ink([*_body_text(20), *_body_text(40), *_logo()]))
    # body text taken as 10 px: big letters from 25 px; the 22 px one joins as a small one
    rows = big_text_rows(comps, 10.0, 300)
    assert rows == [TextRow(x0=320, top=100, x1=520, bottom=140, height=40.0, letters=5)]
    # at 6 px it is big too, but under 1/1.7 of the row's letters: it still only grows it
    assert big_text_rows(comps, 6.0, 300) == rows


def test_small_text_in_the_band_does_not_join() -> None:
    # small text level with the logo, 10 px left of it: not an x-height letter of it
    beside = [(x, 118, x + 5, 124) for x in range(100, 310, 7)]
    comps = ink_components(_ink([*_body_text(20), *beside, *_logo()]))
    rows = big_text_rows(comps, 6.0, 300)
    assert [(r.x0, r.x1) for r in rows] == [(320, 520)]


def test_two_big_letters_are_no_row() -> None:
    comps = ink_components(_ink([*_body_text(20), (320, 100, 350, 140), (356, 100, 386, 140)]))
    assert big_text_rows(comps, 6.0, 300) == []


def _gray(ink: np.ndarray) -> np.ndarray:
    """Dark print (40) on a light ground (230)."""
    return np.where(ink, 40, 230).astype(np.uint8)


def test_row_ink_cut_from_the_page() -> None:
    comps = ink_components(_ink([*_body_text(20), *_logo()]))
    row = big_text_rows(comps, 10.0, 300)[0]
    gray = _gray(_ink([*_body_text(20), *_logo()]))
    ink = row_ink(gray, row, 1.0)
    # cut 12 px above and below the band, 80 px (2 row heights) either side
    assert ink.shape == (40 + 24, 200 + 160)
    assert ink.sum() == 5 * 30 * 40 + 20 * 22  # the five letters and the small one
    # white on a dark ground: the same letters
    assert (row_ink(255 - gray, row, 1.0) == ink).all()
    # at half the size (an analysed copy at factor 0.5), the same cut of the page
    half = TextRow(160, 50, 260, 70, 20.0, 5)
    assert row_ink(gray, half, 0.5).sum() == ink.sum()


def test_a_row_running_on_past_the_cut_is_none() -> None:
    # letters every 36 px from x=320 to the image's right edge: the row goes on
    letters = [(320 + 36 * i, 100, 350 + 36 * i, 140) for i in range(8)]
    comps = ink_components(_ink([*_body_text(20), *letters], (300, 610)))
    row = TextRow(320, 100, 460, 140, 40.0, 4)  # as if only four were measured
    assert not row_ink(_gray(_ink(letters, (300, 610))), row, 1.0).any()
    assert big_text_rows(comps, 10.0, 300)[0].x1 == 602


def test_row_image_scaled_to_the_text_size() -> None:
    ink = np.ones((64, 200), dtype=bool)
    image = row_image(ink, 40.0, 26.0)
    # 200 x 64 at 26/40, with a 26 px margin on each side
    assert image.size == (130 + 52, round(64 * 0.65) + 52)
    arr = np.asarray(image)
    assert arr[:26].min() == 255 and arr[-26:].min() == 255  # white margins
    assert arr[40, 60] == 0  # the ink


def _words(*read: tuple[str, float]) -> list[Word]:
    return [Word(t, 10.0 * i, 10.0 * i + 8, 0.0, 1.0, 1, c) for i, (t, c) in enumerate(read)]


ROW = TextRow(0, 0, 100, 40, 40.0, 5)
SMALL = TextRow(0, 80, 100, 92, 12.0, 5)
HEADING = _words(("Supplement", 96.0), ("Facts", 97.0))


def _reader(
    texts: dict[TextRow, list[Word]], read: list[TextRow]
) -> Callable[[TextRow], list[Word]]:
    def read_row(row: TextRow) -> list[Word]:
        read.append(row)
        return texts[row]

    return read_row


def test_what_reads_as_a_name() -> None:
    assert is_name(_words(("Ceracare", 92.0)))
    assert name_text(_words(("Ceracare,", 76.0))) == "Ceracare"
    assert not is_name(_words(("Luter*", 70.0)))  # a broken letter read as a mark
    assert not is_name(_words(("Luters", 48.0)))  # not read with confidence
    assert not is_name(HEADING)
    assert not is_name(_words(("30", 95.0), ("CAPSULES", 93.0)))  # a net quantity
    assert not is_name(_words(("Suggested", 95.0), ("use:", 95.0), ("one", 95.0)))
    assert not is_name([])


def test_no_title_found() -> None:
    read: list[TextRow] = []
    texts = {ROW: HEADING, SMALL: _words(("Ceracare", 92.0))}
    assert pick_name([ROW, SMALL], _reader(texts, read), None, 6.0) == "Ceracare"
    assert read == [ROW, SMALL]
    texts = {ROW: _words(("Luters", 48.0))}
    assert pick_name([ROW], _reader(texts, []), None, 6.0) is None


def test_a_small_title_gives_way_to_a_much_bigger_name() -> None:
    read = _reader({ROW: _words(("Ceracare", 92.0))}, [])
    assert pick_name([ROW], read, 12.75, 6.0) == "Ceracare"  # 40 >= 2 x 12.75; 12.75 < 3 x 6
    assert pick_name([ROW], read, 21.0, 6.0) is None  # the row is not twice the title's line
    assert pick_name([ROW], read, 18.0, 6.0) is None  # the title is printed big (3 x 6)


def test_rows_read_only_until_a_name() -> None:
    read: list[TextRow] = []
    texts = {ROW: _words(("Ceracare", 90.0)), SMALL: _words(("Other", 90.0))}
    assert pick_name([ROW, SMALL], _reader(texts, read), None, 6.0) == "Ceracare"
    assert read == [ROW]


def test_a_wrapped_name_is_taken_whole() -> None:
    first = TextRow(90, 400, 250, 430, 26.0, 6)
    second = TextRow(93, 425, 251, 467, 26.5, 8)
    third = TextRow(93, 462, 246, 494, 25.0, 4)
    far = TextRow(600, 425, 700, 467, 26.0, 4)  # level with it but not over it: no part
    rows = [second, first, third, far]
    assert stacked(second, rows) == [first, second, third]
    texts = {
        first: _words(("Jarro-", 90.0)),
        second: _words(("Dophilus", 92.0)),
        third: _words(("infant", 88.0)),
        far: _words(("Other", 90.0)),
    }
    assert pick_name(rows, _reader(texts, []), None, 6.0) == "Jarro-Dophilus infant"
    texts[third] = _words(("Qa", 51.0), ("inf:.nt", 49.0))  # one line unread: no name
    assert pick_name(rows, _reader(texts, []), None, 6.0) is None


def test_join_lines() -> None:
    assert join_lines(["Jarro-", "Dophilus", "infant"]) == "Jarro-Dophilus infant"
    assert join_lines(["Ceracare"]) == "Ceracare"


def test_a_failed_row_reading_keeps_the_name_as_read(tmp_path: Path) -> None:
    """OCR failing on a row (timeout, crash) never costs the file: the name stays."""
    ink = _ink([*_body_text(20), *_body_text(40), *_body_text(60), *_logo()])
    image = tmp_path / "wrap.png"
    Image.fromarray(_gray(ink)).save(image)
    extraction = FileExtraction("wrap.png", (Label("wrap.png", 0, "wrap"),), (), ())

    def failing(*_: object, **__: object) -> list[OcrWord]:
        raise UnreadableFile("OCR failed: exit 1")

    got = with_big_name(extraction, [[]], image, image.read_bytes(), "wrap", "tesseract", failing)
    assert got == extraction
    calls: list[object] = []

    def reading(*args: object, **_: object) -> list[OcrWord]:
        calls.append(args)
        return [OcrWord("Osteo", 10, 5, 100, 30, 95.0, (1, 1, 1))]

    if shutil.which("tesseract"):
        got = with_big_name(
            extraction, [[]], image, image.read_bytes(), "wrap", "tesseract", reading
        )
        assert got.labels[0].product_name == "Osteo"
        assert len(calls) == 1
    other = with_big_name(extraction, [[]], image, image.read_bytes(), "wrap", "rapidocr", reading)
    assert other == extraction
