"""Label images as people have them: every image format, rejections a person can act
on, the RapidOCR line splitter, and protocol-field accuracy on each generated image
style (labelgen.image_styles: boxed, white on dark, whole wrap, two column groups, photo
of a bottle, small web image, scanned PDF).

The truth of a generated image is what the text PDF it was rendered from reads as."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from labelgen.image_styles import STYLES, SUFFIX, render_text_pdf, write_style_image
from labelgen.pdf_layouts import render_pdf
from labelgen.products import product_label, sample_product
from labelgen.raster import Scan, degrade, rasterize
from pipeline import config
from pipeline.errors import NoPanel
from pipeline.sources import ocr
from pipeline.sources.ocr_rapid import line_words
from pipeline.sources.pdf import read_pdf
from tests.builders import PROTOCOL_FIELDS, products_of, same_value

# --- formats -------------------------------------------------------------------------


def test_every_image_format_is_a_label_file() -> None:
    assert {"png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif", "heic", "heif"} <= (
        config.IMAGE_SUFFIXES
    )


@pytest.fixture(scope="module")
def bone_page(tmp_path_factory: pytest.TempPathFactory) -> Image.Image:
    pdf = tmp_path_factory.mktemp("fmt") / "bone.pdf"
    render_pdf([sample_product("sample-bone-matrix")], pdf, "ruled")
    return degrade(rasterize(pdf, 200.0)[0], Scan(dpi=200, angle=1.0, noise=4.0, seed=3))


def _save(image: Image.Image, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in (".heic", ".heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        image.convert("RGB").save(path, format="HEIF", quality=90)
    elif suffix == ".gif":
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path, format="GIF")
    elif suffix == ".webp":
        image.save(path, format="WEBP", quality=90)
    elif suffix == ".bmp":
        image.save(path, format="BMP")
    else:
        image.save(path)


@pytest.mark.ocr
@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".gif", ".heic", ".heif", ".tiff"])
def test_each_image_format_reads_the_panel(
    tmp_path: Path, bone_page: Image.Image, suffix: str
) -> None:
    path = tmp_path / f"bone{suffix}"
    _save(bone_page, path)
    ex = ocr.read_image(path, path.name)
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in ex.rows] == [
        ("Vitamin D3", "25", "mcg"),
        ("Vitamin K2", "120", "mcg"),
        ("Calcium", "500", "mg"),
        ("Magnesium", "250", "mg"),
    ]
    assert ex.labels[0].source_format == "image-ocr"


# --- rejections ----------------------------------------------------------------------


@pytest.mark.ocr
def test_tiny_text_is_rejected_as_too_small(tmp_path: Path, bone_page: Image.Image) -> None:
    tiny = bone_page.resize((bone_page.width // 6, bone_page.height // 6), Image.Resampling.BOX)
    path = tmp_path / "tiny.png"
    tiny.save(path)
    with pytest.raises(NoPanel) as info:
        ocr.read_image(path, "tiny.png")
    measured = ocr.read_page(
        tiny.convert("L"), 300.0, 1, exe=ocr.tesseract_path(), engine="tesseract"
    )
    assert measured.text_px is not None
    assert info.value.reason == (
        f"image {tiny.width} px wide: panel text {measured.text_px:.0f} px high, too small to read"
    )


def test_too_small_names_the_width_and_the_text_height() -> None:
    assert ocr.too_small(300, 5.0) == "image 300 px wide: panel text 5 px high, too small to read"
    assert ocr.too_small(300, 9.0) is None
    assert ocr.too_small(300, None) is None


# --- RapidOCR's lines as positioned words ----------------------------------------------


def test_a_rapidocr_line_becomes_words_placed_by_their_characters() -> None:
    box = [[100.0, 50.0], [240.0, 50.0], [240.0, 70.0], [100.0, 70.0]]
    words = line_words("Calcium 500 mg", box, 0.93, 4)
    # 14 characters over 140 px: 10 px a character, a space included
    assert [(w.text, w.left, w.width, w.top, w.height, w.confidence) for w in words] == [
        ("Calcium", 100, 70, 50, 20, 93.0),
        ("500", 180, 30, 50, 20, 93.0),
        ("mg", 220, 20, 50, 20, 93.0),
    ]
    assert {w.line_key for w in words} == {(1, 1, 4)}


def test_a_glued_heading_is_split_and_a_split_keyword_joined() -> None:
    line = [
        ocr.OcrWord("SupplementFacts", 10, 5, 150, 20, 90.0, (1, 1, 1)),
        ocr.OcrWord("Cal", 200, 5, 30, 20, 80.0, (1, 1, 1)),
        ocr.OcrWord("cium", 232, 5, 40, 20, 85.0, (1, 1, 1)),
    ]
    assert [(w.text, w.left, w.width, w.confidence) for w in ocr.unglue_line(line)] == [
        ("Supplement", 10, 100, 90.0),
        ("Facts", 110, 50, 90.0),
        ("Calcium", 200, 72, 80.0),
    ]


# --- accuracy on each generated image style ----------------------------------------------

#: Two products per style (a handful of images keeps CI's time modest): the project's
#: sample with every protocol field, and real DSLD labels with calcium and vitamin K2.
STYLE_LABELS = ("sample-bone-matrix", "277758")
MIN_STYLE_ACCURACY = 0.95


@pytest.fixture(scope="module")
def style_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, int, list[str]]]:
    out = tmp_path_factory.mktemp("styles")
    scores: dict[str, tuple[int, int, list[str]]] = {}
    for style in STYLES:
        right = total = 0
        wrong: list[str] = []
        seconds = 0.0
        for n, label_id in enumerate(STYLE_LABELS):
            label = product_label(label_id)
            pdf = render_text_pdf(label, style, out / f"{style}-{n}-text.pdf")
            truth = products_of(read_pdf(pdf, pdf.name))
            image = write_style_image(label, style, out / f"{style}-{n}{SUFFIX[style]}", seed=n)
            start = time.perf_counter()
            try:
                ex = (
                    read_pdf(image, image.name)
                    if image.suffix == ".pdf"
                    else ocr.read_image(image, image.name)
                )
                got = products_of(ex)
            except NoPanel as exc:
                got = None
                wrong.append(f"{label_id}: rejected: {exc.reason}")
            seconds += time.perf_counter() - start
            for field in PROTOCOL_FIELDS:
                total += 1
                if (
                    got is not None
                    and len(got) >= 1
                    and same_value(truth[field].iloc[0], got[field].iloc[0])
                ):
                    right += 1
                elif got is not None:
                    want, read = truth[field].iloc[0], got[field].iloc[0]
                    wrong.append(f"{label_id} {field}: {want!r} read as {read!r}")
        each = seconds / len(STYLE_LABELS)
        print(f"image style {style}: {right}/{total} protocol fields, {each:.2f} s an image")
        scores[style] = (right, total, wrong)
    return scores


@pytest.mark.ocr
@pytest.mark.parametrize("style", STYLES)
def test_protocol_fields_on_each_image_style(
    style_scores: dict[str, tuple[int, int, list[str]]], style: str
) -> None:
    right, total, wrong = style_scores[style]
    assert total == len(STYLE_LABELS) * len(PROTOCOL_FIELDS)
    assert right / total >= MIN_STYLE_ACCURACY, wrong
