"""A zip member read by its place (pipeline.sources.inputs.read_placed): the bytes
ZipFile.read gives, read without the archive's central directory, and a rejection where
ZipFile would raise."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import UnreadableFile
from pipeline.sources import inputs
from pipeline.sources.inputs import (
    list_archive,
    member_place,
    placed_info,
    read_placed,
    read_task_bytes,
)

MEMBERS = [
    ("DSLD/1.json", b'{"id": "1", "fullName": "Calcium + K2"}' * 40, zipfile.ZIP_DEFLATED),
    ("DSLD/2.json", b'{"id": "2"}', zipfile.ZIP_STORED),
    ("DSLD/é µg.json", '{"fullName": "Vitamin K2 45 µg"}'.encode(), zipfile.ZIP_BZIP2),
    ("DSLD/3.json", b"", zipfile.ZIP_LZMA),
]


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, method in MEMBERS:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def test_each_member_read_by_its_place_is_what_zipfile_reads(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip")
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        for info in archive.infolist():
            placed = placed_info(info.filename, member_place(info))
            assert (placed.header_offset, placed.CRC) == (info.header_offset, info.CRC)
            assert read_placed(handle, placed) == archive.read(info)
    assert len(member_place(info)) == 32  # what a task holds of it


def test_a_planned_member_is_read_without_the_central_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _zip(tmp_path / "a.zip")
    tasks = [task for task, _ in list_archive(path, "a.zip").tasks]
    assert [task.member for task in tasks] == [name for name, _, _ in MEMBERS]

    def no_zipfile(*args: object, **kwargs: object) -> None:
        raise AssertionError("the worker opened the archive's central directory")

    monkeypatch.setattr(inputs.zipfile, "ZipFile", no_zipfile)
    got = [read_task_bytes(task) for task in tasks]
    assert [data for data, _ in got] == [data for _, data, _ in MEMBERS]
    stored = MEMBERS[1][1]
    assert got[1][1] == f"zip-crc32:{zipfile.crc32(stored):08x}:{len(stored)}"


def test_a_damaged_member_is_a_rejection_naming_the_crc(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip")
    stored = next(t for t, _ in list_archive(path, "a.zip").tasks if t.member == "DSLD/2.json")
    data = bytearray(path.read_bytes())
    at = data.index(b'{"id": "2"}')
    data[at + 8] = ord("3")  # {"id": "3"}: the CRC-32 no longer matches
    path.write_bytes(bytes(data))
    inputs._open_file = None
    with pytest.raises(UnreadableFile) as failed:
        read_task_bytes(stored)
    assert str(failed.value) == (
        "a.zip!DSLD/2.json: the member is damaged: Bad CRC-32 for file 'DSLD/2.json'"
    )


def test_a_member_whose_archive_was_replaced_is_a_rejection_not_other_bytes(
    tmp_path: Path,
) -> None:
    path = _zip(tmp_path / "a.zip")
    first = next(t for t, _ in list_archive(path, "a.zip").tasks if t.member == "DSLD/2.json")
    with zipfile.ZipFile(path, "w") as archive:  # the zip rewritten during the run
        archive.writestr("DSLD/0.json", b"x" * 700)
        archive.writestr("DSLD/2.json", b'{"id": "2"}')
    inputs._open_file = None
    with pytest.raises(UnreadableFile) as failed:
        read_task_bytes(first)
    assert str(failed.value) == (
        "a.zip!DSLD/2.json: the member is damaged: Bad magic number for file header"
    )


def _patched(path: Path, name: str, *, flag: int = 0, method: int | None = None) -> None:
    """Set flag bits, or the compression method, of member `name` in both its local and
    its central header (as another zip tool would have written it)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        offsets = [info.header_offset + 6]  # local header: flags at +6, method at +8
        at = data.index(b"PK\x01\x02")
        while at != -1:
            if data[at + 46 : at + 46 + len(name)] == name.encode():
                offsets.append(at + 8)  # central header: flags at +8, method at +10
            at = data.find(b"PK\x01\x02", at + 4)
    for offset in offsets:
        flags = int.from_bytes(data[offset : offset + 2], "little") | flag
        data[offset : offset + 2] = flags.to_bytes(2, "little")
        if method is not None:
            data[offset + 2 : offset + 4] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("flag", "method", "what"),
    [
        (0x20, None, "compressed patched data (flag bit 5)"),
        (0x40, None, "strong encryption (flag bit 6)"),
        (0, 99, "That compression method is not supported"),
    ],
)
def test_a_member_zipfile_cannot_read_is_a_rejection_saying_what_it_uses(
    tmp_path: Path, flag: int, method: int | None, what: str
) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("DSLD/2.json", b'{"id": "2"}')
    _patched(path, "DSLD/2.json", flag=flag, method=method)
    (task,) = [t for t, _ in list_archive(path, "a.zip").tasks]
    expected = f"a.zip!DSLD/2.json: the member uses a zip feature that cannot be read here: {what}"
    for read in (
        lambda: read_task_bytes(task),
        lambda: read_task_bytes(replace(task, member_place=b"")),
    ):
        inputs._open_file = inputs._open_archive = None
        with pytest.raises(UnreadableFile) as failed:
            read()
        assert str(failed.value) == expected
