"""pipeline.audit.protocol_key: the validate and report stages key on the protocol's values,
not on the path of the file they were read from (a work folder used from another checkout,
whose bundled protocol is another file with the same content, reuses its validation)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline import audit, config
from pipeline.protocol import DEFAULT_PROTOCOL_FILE, load_protocol


def _two_files(tmp_path: Path, text: str) -> tuple[Path, Path]:
    first, second = tmp_path / "a" / "protocol.toml", tmp_path / "b" / "other.toml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    return first, second


def test_the_key_is_the_protocols_values_without_its_file(tmp_path: Path) -> None:
    first, second = _two_files(tmp_path, DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8"))
    one, other = load_protocol(first), load_protocol(second)
    assert repr(one) != repr(other)  # (repr names the file)
    assert audit.protocol_key(one) == repr(dataclasses.replace(one, source=""))
    assert audit.protocol_key(one) == audit.protocol_key(other)
    assert str(first) not in audit.protocol_key(one)


def test_another_value_is_another_key(tmp_path: Path) -> None:
    text = DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8")
    assert "k2_present = 15\n" in text
    first, second = _two_files(tmp_path, text)
    second.write_text(text.replace("k2_present = 15\n", "k2_present = 16\n"), encoding="utf-8")
    assert audit.protocol_key(load_protocol(first)) != audit.protocol_key(load_protocol(second))


def test_the_validate_fingerprint_is_the_same_for_the_same_protocol_elsewhere(
    tmp_path: Path,
) -> None:
    first, second = _two_files(tmp_path, DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8"))
    work = config.WorkPaths(tmp_path / "work")
    work.root.mkdir()
    for path in (work.products, work.nutrients, work.read_issues):
        path.write_bytes(b"a table")
    one = audit._validate_fingerprint(work, load_protocol(first))
    assert one is not None
    assert one == audit._validate_fingerprint(work, load_protocol(second))
    changed = load_protocol(first)
    changed = dataclasses.replace(changed, matches_min_score=changed.matches_min_score + 1)
    assert audit._validate_fingerprint(work, changed) != one
