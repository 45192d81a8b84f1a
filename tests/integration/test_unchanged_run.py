"""An unchanged run keeps the last report (pipeline.rerun): when every input, the
corrections, the protocol and the code are as the last run's, and the report and the work
folder are as it left them, nothing is read or written but a history line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from labelgen.dsld_formats import write_simple_csv
from labelgen.products import sample_product
from pipeline import rerun
from pipeline.infra.history import read_history
from tests.builders import REPO, audit_cli, two_product_folder


def _audit(tmp: Path, *extra: str) -> tuple[int, str]:
    result = audit_cli(tmp / "labels", tmp / "out", tmp / "work", *extra)
    return result.exit_code, result.output


def _stamps(tmp: Path) -> dict[str, int]:
    out = tmp / "out"
    return {name: (out / name).stat().st_mtime_ns for name in ("audit.html", "audit.json")}


def _last(tmp: Path) -> dict[str, Any]:
    return read_history(tmp / "out" / "history.jsonl")[-1]


def test_a_second_run_on_nothing_changed_keeps_the_report(tmp_path: Path) -> None:
    two_product_folder(tmp_path / "labels")
    code, said = _audit(tmp_path)
    assert code == 0
    first = _stamps(tmp_path)
    written = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    assert "unchanged" not in _last(tmp_path)
    code, again = _audit(tmp_path)
    assert (code, again.splitlines()[-1]) == (0, said.splitlines()[-1])  # the same summary
    assert _stamps(tmp_path) == first  # not written again
    line = _last(tmp_path)
    assert line["unchanged"] is True
    assert line["report_generated_at"] == written["generated_at"]
    assert (line["parsed"], line["cached"], line["products"]) == (0, 2, 2)
    assert line["changes"] == {"added": 0, "removed": 0, "verdict_changed": 0}
    meta = json.loads((tmp_path / "work" / "run.json").read_text(encoding="utf-8"))
    assert (meta["parsed"], meta["cached"]) == (0, 2)
    assert len(read_history(tmp_path / "out" / "history.jsonl")) == 2


def test_a_damaged_report_or_work_file_is_a_full_run(tmp_path: Path) -> None:
    two_product_folder(tmp_path / "labels")
    _audit(tmp_path)
    html = tmp_path / "out" / "audit.html"
    good = html.read_text(encoding="utf-8")
    html.write_text(good.replace("</html>", "</html>x"), encoding="utf-8")
    _audit(tmp_path)
    assert "unchanged" not in _last(tmp_path)
    assert html.read_text(encoding="utf-8").endswith("</body>\n</html>")  # written again
    _audit(tmp_path)
    assert _last(tmp_path)["unchanged"] is True
    (tmp_path / "work" / "chart.json").write_text("{}", encoding="utf-8")
    _audit(tmp_path)
    assert "unchanged" not in _last(tmp_path)


def test_a_changed_label_protocol_or_correction_is_a_full_run(tmp_path: Path) -> None:
    labels = two_product_folder(tmp_path / "labels")
    _audit(tmp_path)
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        (REPO / "pipeline" / "protocol.toml")
        .read_text(encoding="utf-8")
        .replace(
            "ratio_mcg_per_500mg_calcium = [100.0, 180.0]",
            "ratio_mcg_per_500mg_calcium = [50.0, 180.0]",
        ),
        encoding="utf-8",
    )
    _audit(tmp_path, "--protocol", str(protocol))
    assert "unchanged" not in _last(tmp_path)
    _audit(tmp_path, "--protocol", str(protocol))
    assert _last(tmp_path)["unchanged"] is True
    (labels / "corrections.csv").write_text("source_file,line\n", encoding="utf-8")
    _audit(tmp_path, "--protocol", str(protocol))
    assert "unchanged" not in _last(tmp_path)
    _audit(tmp_path, "--protocol", str(protocol), "--full")
    assert "unchanged" not in _last(tmp_path)


def test_the_run_after_a_run_with_changes_is_full_then_unchanged(tmp_path: Path) -> None:
    labels = two_product_folder(tmp_path / "labels")
    _audit(tmp_path)
    write_simple_csv([sample_product("sample-k2-calcium-softgel")], labels / "new.csv")
    _audit(tmp_path)
    assert _last(tmp_path)["changes"]["added"] == 1  # listed in the report: no record
    assert not rerun.record_path(tmp_path / "work").exists()
    _audit(tmp_path)  # what changed is now nothing: written again, without the list
    assert ("unchanged" not in _last(tmp_path), _last(tmp_path)["changes"]["added"]) == (True, 0)
    _audit(tmp_path)
    assert _last(tmp_path)["unchanged"] is True


def _zip(path: Path, members: list[tuple[str, bytes]], method: int) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def test_a_zip_is_keyed_by_its_members_not_by_its_bytes(tmp_path: Path) -> None:
    members = [("DSLD/1.json", b'{"id": 1}'), ("DSLD/2.json", b'{"id": 2}')]
    one = rerun.archive_digest(_zip(tmp_path / "a.zip", members, zipfile.ZIP_DEFLATED))
    other_bytes = rerun.archive_digest(_zip(tmp_path / "b.zip", members, zipfile.ZIP_STORED))
    assert (tmp_path / "a.zip").read_bytes() != (tmp_path / "b.zip").read_bytes()
    assert one == other_bytes
    changed = [members[0], ("DSLD/2.json", b'{"id": 3}')]
    assert rerun.archive_digest(_zip(tmp_path / "c.zip", changed, zipfile.ZIP_DEFLATED)) != one
    (tmp_path / "d.zip").write_bytes(b"not a zip")
    assert rerun.archive_digest(tmp_path / "d.zip").startswith("not-a-zip:")
