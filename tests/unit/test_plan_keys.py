"""The planning of a zip's members: member_reason by name, cache_key's payload."""

from __future__ import annotations

import hashlib
import json

import pytest

from pipeline.infra.cache import _key_head, cache_key
from pipeline.sources.inputs import NESTED_ARCHIVE, member_reason
from pipeline.sources.registry import suffix_of


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("DSLD/1.json", None),
        ("/DSLD/1.json", None),
        ("DSLD//1.json", None),
        ("./DSLD/1.json", None),  # (PurePosixPath drops ".")
        ("DSLD/./1.JSON", None),
        ("DSLD/", ""),
        (".hidden/1.json", "hidden folder"),
        ("a/.b/1.json", "hidden folder"),
        ("a/../1.json", "hidden folder"),
        ("__MACOSX/a/1.json", "hidden folder"),
        ("x__MACOSX/1.json", None),
        ("a/.1.json", "hidden file"),
        (".1.json", "hidden file"),
        ("a/b.zip", NESTED_ARCHIVE),
        ("a/b.txt", "not a label file type"),
        ("a/b.", "not a label file type"),
        ("a/json", "not a label file type"),
        ("", "not a label file type"),
    ],
)
def test_member_reason(name: str, reason: str | None) -> None:
    assert member_reason(name) == reason


@pytest.mark.parametrize(
    "source_file", ["a.zip!DSLD/1.json", 'd\u00e9j\u00e0 "vu"\\\n.json', "\udcff.json", ""]
)
def test_cache_key_is_the_sha256_of_its_json_payload(source_file: str) -> None:
    for digests in ([], ["zip-crc32:0badf00d:812"], ["a", "b\u00e9"]):
        payload = _key_head("v1") + json.dumps(source_file) + ","
        payload += json.dumps(digests, separators=(",", ":")) + "]"
        expected = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        assert cache_key(source_file, digests, extractor_version="v1") == expected
    assert cache_key("a.json", ["x"], extractor_version="v1") != cache_key(
        "a.json", ["y"], extractor_version="v1"
    )


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("DSLD/1.json", "json"),
        ("a/B.JSON", "json"),
        ("a.tar.gz", "gz"),
        ("a..json", "json"),
        (".json", ""),
        ("a/.json", ""),
        ("a.", ""),
        ("a", ""),
        ("", ""),
        ("a/b.json/", "json"),
        ("a//b.csv", "csv"),
        ("./b.pdf", "pdf"),
        ("b.json/.", "json"),
    ],
)
def test_suffix_of(name: str, suffix: str) -> None:
    assert suffix_of(name) == suffix
