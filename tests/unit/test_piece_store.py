"""The report's piece store (pipeline.infra.piece_store.PieceStore)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline.infra.piece_store import PAGE_SIZE, PieceStore


def test_a_new_store_has_pages_of_16_kib_and_gives_back_its_pieces(tmp_path: Path) -> None:
    path = tmp_path / "pieces.sqlite"
    store = PieceStore.open(path, "salt")
    assert store is not None
    store.put_many([("a", "x" * 10_000), ("b", "é")])
    store.close(prune=True)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (16_384,) == (PAGE_SIZE,)
    again = PieceStore.open(path, "salt")
    assert again is not None
    assert again.get_many(["b", "a", "c"]) == ["é", "x" * 10_000, None]
    again.close(prune=False)


def test_an_existing_store_of_other_pages_is_used_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "pieces.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA page_size = 4096")
        db.execute("CREATE TABLE t (x)")
    store = PieceStore.open(path, "salt")
    assert store is not None
    store.put_many([("a", "text")])
    assert store.get("a") == "text"
    store.close(prune=True)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)


def test_close_with_prune_keeps_only_the_pieces_used(tmp_path: Path) -> None:
    path = tmp_path / "pieces.sqlite"
    store = PieceStore.open(path, "salt")
    assert store is not None
    store.put_many([("a", "1"), ("b", "2"), ("c", "3")])
    store.close(prune=True)
    again = PieceStore.open(path, "salt")
    assert again is not None
    assert again.get_many(["a", "a"]) == ["1", "1"]
    assert again.get("x") is None
    again.put_many([("d", "4")])
    again.close(prune=True)
    last = PieceStore.open(path, "salt")
    assert last is not None
    assert last.get_many(["a", "b", "c", "d"]) == ["1", None, None, "4"]
    last.close(prune=False)
