"""pipeline.infra.versions: a stage's code version is the hash of the source it depends on."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from pipeline.infra import versions


def _package(root: Path) -> Path:
    package = root / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "1"\n')
    (package / "a.py").write_text("from pkg import b\nfrom .sub import c\n")
    (package / "b.py").write_text("import json\n\ndef f():\n    import pkg.d\n")
    (package / "d.py").write_text("X = 1\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from .. import b\n")
    (package / "unrelated.py").write_text("import pkg.a\n")
    (package / "templates").mkdir()
    (package / "templates" / "page.j2").write_text("<p>{{ x }}</p>\n")
    return package


def test_dependencies_follow_every_import_of_the_package(tmp_path: Path) -> None:
    package = _package(tmp_path)
    found = versions.dependencies(("pkg.a",), package)
    assert sorted(found) == ["pkg", "pkg.a", "pkg.b", "pkg.d", "pkg.sub", "pkg.sub.c"]
    assert found["pkg.sub.c"] == package / "sub" / "c.py"
    assert sorted(versions.dependencies(("pkg.sub",), package)) == [
        "pkg",
        "pkg.b",
        "pkg.d",
        "pkg.sub",
        "pkg.sub.c",
    ]


def test_a_version_changes_with_its_dependencies_only(tmp_path: Path) -> None:
    package = _package(tmp_path)
    before = versions.source_version(("pkg.a",), ("templates/*",), root=package)
    assert len(before) == versions.VERSION_DIGITS
    (package / "unrelated.py").write_text("import pkg.a  # a comment\n")
    assert versions.source_version(("pkg.a",), ("templates/*",), root=package) == before
    (package / "d.py").write_text("X = 1  # a comment\n")  # imported inside a function
    after_d = versions.source_version(("pkg.a",), ("templates/*",), root=package)
    assert after_d != before
    (package / "templates" / "page.j2").write_text("<p>{{ y }}</p>\n")
    assert versions.source_version(("pkg.a",), ("templates/*",), root=package) != after_d
    assert versions.source_version(("pkg.a",), root=package) == versions.source_version(
        ("pkg.a",), root=package
    )


def test_the_report_is_not_part_of_extraction_or_normalization() -> None:
    """A change to the report (code, templates) reads no file again and normalizes nothing."""
    extract = versions.dependencies(versions.STAGES["extract"][0])
    normalize = versions.dependencies(versions.STAGES["normalize"][0])
    assert "pipeline.extract" in extract and "pipeline.sources.pdf" in extract
    assert sorted(normalize) == [
        "pipeline",
        "pipeline.config",
        "pipeline.corrections",  # applied to the rows before they are normalized
        "pipeline.errors",
        "pipeline.label_text",
        "pipeline.normalize",
        "pipeline.nutrients",
        "pipeline.protocol",
        "pipeline.records",
        "pipeline.rules",  # found by importlib: the package counts whole
        "pipeline.rules.base",
        "pipeline.rules.compliance",
        "pipeline.rules.protocol",
        "pipeline.rules.protocol.companions",
        "pipeline.rules.protocol.k2",
        "pipeline.rules.protocol.k2_isomer",
        "pipeline.rules.protocol.label_text",
        "pipeline.rules.quality",
        "pipeline.rules.regulated",
        "pipeline.units",
        "pipeline.values",
    ]
    for stage in (extract, normalize):
        assert not {"pipeline.report", "pipeline.chart", "pipeline.infra.progress"} & set(stage)
    assert "pipeline.report" in versions.dependencies(versions.STAGES["report"][0])


# ---- the code versions kept between runs (cached_code_version) ----------------------------

_TABLE = {"a": (("pkg.a",), ("templates/*",), ("somelib",)), "rules": (("pkg.sub",), (), ())}


def _fresh(stage: str, package: Path) -> str:
    """The version computed from the source, as if no cache were kept."""
    versions._imported.cache_clear()  # (a process parses each file once; here files change)
    roots, data, libraries = _TABLE[stage]
    return versions.source_version(roots, data, libraries, package)


def _cached(stage: str, package: Path) -> str:
    versions._imported.cache_clear()
    key = versions.package_version_of(package)
    return versions.cached_code_version(stage, package, key, _TABLE)


def _parse_count(monkeypatch: Any) -> list[Path]:
    parsed: list[Path] = []
    real = versions._imported.__wrapped__

    def counting(path: Path, name: str, root: Path) -> frozenset[str]:
        parsed.append(path)
        return real(path, name, root)

    monkeypatch.setattr(versions, "_imported", functools.cache(counting))
    return parsed


def test_the_kept_version_is_the_computed_one_and_is_read_back(
    tmp_path: Path, monkeypatch: Any
) -> None:
    package = _package(tmp_path)
    assert _cached("a", package) == _fresh("a", package)
    assert _cached("rules", package) == _fresh("rules", package)
    kept = json.loads((package / versions.VERSIONS_CACHE).read_text())
    assert kept == {
        "key": versions.package_version_of(package),
        "versions": {"a": _fresh("a", package), "rules": _fresh("rules", package)},
    }
    parsed = _parse_count(monkeypatch)
    key = versions.package_version_of(package)
    assert versions.cached_code_version("a", package, key, _TABLE) == kept["versions"]["a"]
    assert parsed == []  # read back: no file parsed
    # the cache file is not part of any version, nor of the package's
    assert versions.package_version_of(package) == kept["key"]


def test_a_source_edit_gives_the_new_version(tmp_path: Path) -> None:
    package = _package(tmp_path)
    before = _cached("a", package)
    (package / "d.py").write_text("X = 2\n")
    after = _cached("a", package)
    assert after != before and after == _fresh("a", package)
    (package / "templates" / "page.j2").write_text("<p>{{ y }}</p>\n")
    assert _cached("a", package) == _fresh("a", package) != after


def test_an_added_or_removed_module_gives_the_new_version(tmp_path: Path) -> None:
    package = _package(tmp_path)
    before = _cached("rules", package)
    (package / "sub" / "e.py").write_text("Y = 1\n")  # a package root counts whole
    added = _cached("rules", package)
    assert added != before and added == _fresh("rules", package)
    (package / "sub" / "e.py").unlink()
    assert _cached("rules", package) == before == _fresh("rules", package)
    (package / "d.py").unlink()  # imported by b: no longer a dependency
    assert _cached("rules", package) == _fresh("rules", package) != before


def test_a_library_or_python_version_change_gives_the_new_version(
    tmp_path: Path, monkeypatch: Any
) -> None:
    package = _package(tmp_path)
    monkeypatch.setattr(versions, "STAGES", _TABLE)  # (the libraries the key names)
    monkeypatch.setattr(versions, "library_version", lambda name: "1.0")
    before = _cached("a", package)
    monkeypatch.setattr(versions, "library_version", lambda name: "1.1")
    bumped = _cached("a", package)
    assert bumped != before and bumped == _fresh("a", package)
    monkeypatch.setattr(versions.sys, "version", "3.99.0 (test)")
    key = versions.package_version_of(package)
    assert key != json.loads((package / versions.VERSIONS_CACHE).read_text())["key"]
    assert _cached("a", package) == bumped  # (the same source: the same version)
    assert json.loads((package / versions.VERSIONS_CACHE).read_text())["key"] == key


def test_a_damaged_cache_is_computed_anew(tmp_path: Path) -> None:
    package = _package(tmp_path)
    right = _cached("a", package)
    cache = package / versions.VERSIONS_CACHE
    key = versions.package_version_of(package)
    for text in (
        "{not json",
        "[]",
        json.dumps({"key": key, "versions": []}),
        json.dumps({"key": key, "versions": {"a": 7}}),
        json.dumps({"key": key, "versions": {"a": "short"}}),
        "",
    ):
        cache.write_text(text)
        assert _cached("a", package) == right
        assert json.loads(cache.read_text()) == {"key": key, "versions": {"a": right}}
    cache.write_bytes(b"\xff\xfe")
    assert _cached("a", package) == right


def test_an_unwritable_cache_location_still_gives_the_version(tmp_path: Path) -> None:
    package = _package(tmp_path)
    (package / "__pycache__").write_text("a file where the folder would be\n")
    assert _cached("a", package) == _fresh("a", package)
    assert _cached("a", package) == _fresh("a", package)
    assert sorted(p.name for p in package.iterdir() if p.name.startswith(".")) == []


def test_the_package_version_leaves_out_bytecode_and_temp_files(tmp_path: Path) -> None:
    package = _package(tmp_path)
    before = versions.package_version_of(package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (package / "stray.pyc").write_bytes(b"\0")
    (package / ".d.py.0123456789ab.tmp").write_text("")
    assert versions.package_version_of(package) == before
    (package / "data.toml").write_text("x = 1\n")
    assert versions.package_version_of(package) != before


def test_the_stage_code_versions_are_those_of_the_source() -> None:
    for stage, (roots, data, libraries) in versions.STAGES.items():
        versions.code_version.cache_clear()
        assert versions.code_version(stage) == versions.source_version(roots, data, libraries)
