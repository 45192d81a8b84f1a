"""Kept pieces of the report, for the next run to reuse: `PieceStore` (card bodies and
audit.json lines by key, in an SQLite file of the work folder) and `cached_text` (one text,
the chart's SVG, in a JSON file). Every piece carries a checksum checked on use: a piece
that does not match is made again, with a warning; a damaged file is rebuilt."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pipeline.infra.atomic import atomic_write_text

log = logging.getLogger(__name__)

#: Keys asked for in one query (SQLite allows 32,766 parameters).
_QUERY_KEYS = 500
#: The SQLite page size of a new piece store, in bytes.
PAGE_SIZE = 16_384


def _text_checksum(key: str, text: str) -> str:
    return hashlib.sha256(f"{key}\n{text}".encode()).hexdigest()


def cached_text(cache: Path, key: str, make: Callable[[], str], what: str = "chart") -> str:
    """The text kept in the file `cache` under `key`, else `make()` (then kept there). A
    damaged file or a text that does not match its checksum is made again, with a warning
    (`what` names it); a file that cannot be written is only a miss next time."""
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except FileNotFoundError:
        stored = None
    except (OSError, ValueError) as exc:
        log.warning("%s cache %s is damaged (%s): the %s is drawn again", what, cache, exc, what)
        stored = None
    if stored is not None and not isinstance(stored, dict):
        log.warning(
            "%s cache %s is damaged (not an object): the %s is drawn again", what, cache, what
        )
    elif stored is not None and stored.get("key") == key:
        text = stored.get("svg")
        if isinstance(text, str) and stored.get("sha256") == _text_checksum(key, text):
            return text
        log.warning(
            "%s cache %s does not match its checksum: the %s is drawn again", what, cache, what
        )
    text = make()
    entry = {"key": key, "svg": text, "sha256": _text_checksum(key, text)}
    with contextlib.suppress(OSError):  # a cache: the next run makes it again
        atomic_write_text(cache, json.dumps(entry))
    return text


class PieceStore:
    """Report pieces (card bodies, audit.json lines) by key in an SQLite file, for one run
    (pipeline.report.ProductPieces).

    Each piece is stored with the sha256 of its key and text, checked when it is read: a
    piece that does not match is rendered again (with a warning). A file SQLite cannot
    read (partly overwritten, "database disk image is malformed", "Could not decode to
    UTF-8") is discarded and rebuilt, with a warning, whenever that shows: the pieces
    already taken from it were checked one by one."""

    #: Bump when the tables change: a file of another format is emptied.
    FORMAT = "2"

    def __init__(self, path: Path, db: sqlite3.Connection, salt: str) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = db
        self._salt = salt
        self._setup(db)

    def _setup(self, db: sqlite3.Connection) -> None:
        salt = f"{self.FORMAT} {self._salt}"
        # before the first table of a new file (an existing file keeps its own): a card's
        # data and an audit.json line are a few KB each, which at SQLite's 4 KiB pages
        # spill into chains of overflow pages (writing and reading back the pieces of
        # 10,000 products: 1.7 s CPU at 4 KiB, 1.35 s at 16 KiB)
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        db.execute("PRAGMA synchronous = OFF")  # a cache: a torn write is rebuilt
        db.execute("CREATE TABLE IF NOT EXISTS salt (value TEXT)")
        found = db.execute("SELECT value FROM salt").fetchall()
        if found != [(salt,)]:
            db.execute("DROP TABLE IF EXISTS pieces")
            db.execute("DELETE FROM salt")
            db.execute("INSERT INTO salt VALUES (?)", (salt,))
        db.execute(
            "CREATE TABLE IF NOT EXISTS pieces (key TEXT PRIMARY KEY, text BLOB, sha256 TEXT)"
        )
        # the keys this run used, for `close(prune=True)`: in SQLite, not a Python set (two
        # keys a product: ~12 MB at 40,000 products); without a rowid, one b-tree (its key)
        # and not two: ~25% less CPU for the ~5 marks a product
        db.execute("CREATE TEMP TABLE IF NOT EXISTS used (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def _mark_used(self, keys: Iterable[str]) -> None:
        if self._db is None:
            return
        try:
            self._db.executemany("INSERT OR IGNORE INTO used VALUES (?)", ((k,) for k in keys))
        except sqlite3.Error as exc:
            self._rebuild(exc)

    @classmethod
    def open(cls, path: Path, salt: str) -> PieceStore | None:
        for attempt in range(2):
            db = None
            try:
                db = sqlite3.connect(path)
                return cls(path, db, salt)
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                if attempt == 0:
                    log.warning("report cache %s is damaged (%s): it is rebuilt", path, exc)
                    with contextlib.suppress(OSError):
                        path.unlink()
                else:
                    log.warning("report cache %s cannot be created (%s): not used", path, exc)
        return None

    def _rebuild(self, exc: Exception) -> None:
        """The file failed under us: start a new one (or go on without)."""
        log.warning("report cache %s is damaged (%s): it is rebuilt", self._path, exc)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None
        with contextlib.suppress(OSError):
            self._path.unlink()
        try:
            db = sqlite3.connect(self._path)
            self._setup(db)
            self._db = db
        except sqlite3.Error as again:
            log.warning("report cache %s cannot be created (%s): not used", self._path, again)

    @staticmethod
    def _checksum(key: str, text: bytes) -> str:
        return hashlib.sha256(key.encode("utf-8") + b"\n" + text).hexdigest()

    def get(self, key: str) -> str | None:
        self._mark_used((key,))
        if self._db is None:
            return None
        try:
            found = self._db.execute(
                "SELECT key, text, sha256 FROM pieces WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            self._rebuild(exc)
            return None
        if found is None:
            return None
        stored_key, text, sha = found
        return self._checked(key, text, sha if stored_key == key else None)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """`get` of each key, in one query (each piece still checked)."""
        self._mark_used(keys)
        if self._db is None or not keys:
            return [None] * len(keys)
        found: dict[str, tuple[bytes, str]] = {}
        try:
            for start in range(0, len(keys), _QUERY_KEYS):
                part = list(dict.fromkeys(keys[start : start + _QUERY_KEYS]))
                marks = ",".join("?" * len(part))
                query = f"SELECT key, text, sha256 FROM pieces WHERE key IN ({marks})"
                found.update((k, (t, s)) for k, t, s in self._db.execute(query, part))
        except sqlite3.Error as exc:
            self._rebuild(exc)
            return [None] * len(keys)
        out: list[str | None] = []
        for key in keys:
            text, sha = found.get(key, (None, None))
            out.append(None if text is None else self._checked(key, text, sha))
        return out

    def _checked(self, key: str, text: bytes, sha: str | None) -> str | None:
        try:
            if self._checksum(key, bytes(text)) != sha:
                raise ValueError("checksum")
            return bytes(text).decode("utf-8")
        except (ValueError, TypeError):
            log.warning(
                "report cache %s: a piece does not match its checksum: it is rendered again",
                self._path,
            )
            return None

    def put_many(self, items: Sequence[tuple[str, str]]) -> None:
        """`put` of each (key, text), in one statement."""
        self._mark_used(key for key, _ in items)
        if self._db is None or not items:
            return
        rows = []
        for key, text in items:
            data = text.encode("utf-8")
            rows.append((key, data, self._checksum(key, data)))
        try:
            self._db.executemany("INSERT OR REPLACE INTO pieces VALUES (?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._rebuild(exc)

    def put(self, key: str, text: str) -> None:
        if self._db is None:
            return
        data = text.encode("utf-8")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO pieces VALUES (?, ?, ?)",
                (key, data, self._checksum(key, data)),
            )
        except sqlite3.Error as exc:
            self._rebuild(exc)

    def close(self, *, prune: bool) -> None:
        if self._db is None:
            return
        try:
            if prune:
                self._db.execute("DELETE FROM pieces WHERE key NOT IN (SELECT key FROM used)")
            self._db.commit()
        except sqlite3.Error as exc:
            log.warning("report cache %s not saved (%s): it is rebuilt next time", self._path, exc)
            with contextlib.suppress(OSError):
                self._path.unlink()
        finally:
            self._db.close()
            self._db = None
