"""Field accuracy of the PDF reader over real DSLD labels rendered in every layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgen.corpus import Score, build_corpus, score_corpus
from labelgen.pdf_layouts import LAYOUTS


@pytest.fixture(scope="session")
def corpus_score(tmp_path_factory: pytest.TempPathFactory) -> Score:
    paths = build_corpus(tmp_path_factory.mktemp("corpus"))
    return score_corpus(paths)


def test_corpus_covers_every_layout(tmp_path: Path) -> None:
    from labelgen.products import sample_product

    paths = build_corpus(tmp_path, [sample_product("sample-bone-matrix")])
    assert sorted(p.name.split("_")[0] for p in paths) == sorted(LAYOUTS)
    assert all(p.with_suffix(".truth.json").exists() for p in paths)


def test_field_accuracy(corpus_score: Score) -> None:
    s = corpus_score
    print(
        f"field accuracy (name/amount/unit/form, all printed rows): {s.accuracy:.4f} "
        f"({s.matched}/{s.fields}); protocol rows (Ca, Mg, D, K amount/unit/form): "
        f"{s.protocol_accuracy:.4f} ({s.protocol_matched}/{s.protocol_fields}); "
        f"product names and blend parents: {s.other_accuracy:.4f}; read issues: {s.issues}"
    )
    assert s.rejected == []
    assert s.fields > 5000 and s.protocol_fields > 500
    assert s.accuracy >= 0.98, s.mismatches[:20]
    assert s.protocol_accuracy >= 0.98, s.mismatches[:20]
    assert s.other_accuracy >= 0.98, s.mismatches[:20]
