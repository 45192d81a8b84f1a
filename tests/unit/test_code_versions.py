"""pipeline.infra.versions: a stage's code version is the hash of the source it depends on."""

from __future__ import annotations

from pathlib import Path

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
