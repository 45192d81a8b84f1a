"""pipeline.sources.zip_directory: a zip's directory read by hand, members at their headers."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from pipeline.rerun import archive_digest
from pipeline.sources import inputs
from pipeline.sources.zip_directory import Entry, _plain_directory, read_at, read_directory

LABEL = b'{"fullName": "Cal", "ingredientRows": []}' * 20


def _zip(path: Path, **options: object) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("DSLD/1.json", LABEL)
        archive.writestr(zipfile.ZipInfo("DSLD/2.json"), b"stored", zipfile.ZIP_STORED)
        archive.writestr("DSLD/\u00e9t\u00e9.json", b"{}")  # a UTF-8 name
        archive.writestr("DSLD/", b"")
        for name, value in options.items():
            setattr(archive, name, value)
    return path


def _zipfile_entries(path: Path) -> tuple[Entry, ...]:
    with zipfile.ZipFile(path) as archive:
        return tuple(Entry.of(info) for info in archive.infolist())


def _plain(path: Path) -> bool:
    with path.open("rb") as handle:
        return _plain_directory(handle) is not None


def test_a_plain_zip_is_listed_by_hand_as_zipfile_lists_it(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip")
    assert _plain(path)
    entries = read_directory(path)
    assert entries == _zipfile_entries(path)
    assert [e.filename for e in entries] == [
        "DSLD/1.json",
        "DSLD/2.json",
        "DSLD/\u00e9t\u00e9.json",
        "DSLD/",
    ]
    first = entries[0]
    assert (first.file_size, first.CRC, first.compress_type) == (
        len(LABEL),
        zipfile.crc32(LABEL),
        8,
    )
    with path.open("rb") as handle:
        assert [read_at(handle, e) for e in entries] == [LABEL, b"stored", b"{}", b""]


def test_data_before_the_zip_moves_the_offsets(tmp_path: Path) -> None:
    inner = _zip(tmp_path / "a.zip").read_bytes()
    path = tmp_path / "b.zip"
    path.write_bytes(b"#!/bin/sh\n" * 7 + inner)
    assert _plain(path)
    entries = read_directory(path)
    assert entries == _zipfile_entries(path)
    assert entries[0].header_offset == 70
    with path.open("rb") as handle:
        assert read_at(handle, entries[0]) == LABEL


def test_a_comment_or_zip64_is_listed_by_zipfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commented = _zip(tmp_path / "c.zip", comment=b"made by hand")
    assert not _plain(commented)
    assert read_directory(commented) == _zipfile_entries(commented)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 10)  # zip64 fields and end record past 10 bytes
    path = _zip(tmp_path / "z64.zip")
    monkeypatch.undo()
    assert not _plain(path)
    entries = read_directory(path)
    assert entries == _zipfile_entries(path)
    assert entries[0].file_size == len(LABEL)
    with path.open("rb") as handle:
        assert read_at(handle, entries[0]) == LABEL  # (sizes from zip64 fields: the same)


def test_not_a_zip_raises_what_zipfile_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip at all, " * 10)
    with pytest.raises(zipfile.BadZipFile, match="File is not a zip file"):
        read_directory(path)
    assert archive_digest(path).startswith("not-a-zip:")


def test_archive_digest_is_that_of_the_central_directory(tmp_path: Path) -> None:
    for path in (_zip(tmp_path / "a.zip"), _zip(tmp_path / "c.zip", comment=b"x")):
        digest = hashlib.sha256()
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                digest.update(f"{info.filename}\0{info.CRC:08x}\0{info.file_size}\n".encode())
        assert archive_digest(path) == "zip:" + digest.hexdigest()


class _Stream(io.RawIOBase):
    """A file that cannot tell or seek: zipfile writes data descriptors to it."""

    def __init__(self) -> None:
        self.data = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.data.write(data)

    def tell(self) -> int:
        raise OSError("not seekable")


def test_a_data_descriptor_member_is_read_by_zipfile(tmp_path: Path) -> None:
    stream = _Stream()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("DSLD/1.json", LABEL)
    path = tmp_path / "dd.zip"
    path.write_bytes(stream.data.getvalue())
    entry = read_directory(path)[0]
    assert entry.flag_bits & 0x8
    with path.open("rb") as handle:
        assert read_at(handle, entry) is None
    assert inputs.read_member(path, 0, "dd.zip!DSLD/1.json", entry) == (
        LABEL,
        f"zip-crc32:{zipfile.crc32(LABEL):08x}:{len(LABEL)}",
    )


def test_a_member_that_is_not_the_listed_one_is_not_read_at_its_header(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip")
    entry = read_directory(path)[0]
    with path.open("rb") as handle:
        assert read_at(handle, entry._replace(CRC=entry.CRC ^ 1)) is None
        assert read_at(handle, entry._replace(file_size=entry.file_size - 1)) is None
        assert read_at(handle, entry._replace(orig_filename="DSLD/9.json")) is None
        assert read_at(handle, entry._replace(header_offset=entry.header_offset + 1)) is None
        assert read_at(handle, entry._replace(flag_bits=0x1)) is None
        assert read_at(handle, entry._replace(compress_type=zipfile.ZIP_BZIP2)) is None
    # a damaged member, read with zipfile: the rejection says what zipfile says
    data = bytearray(path.read_bytes())
    at = entry.header_offset + 30 + len(entry.filename.encode()) + 3
    data[at] ^= 0xFF
    damaged = tmp_path / "d.zip"
    damaged.write_bytes(bytes(data))
    with damaged.open("rb") as handle:
        assert read_at(handle, read_directory(damaged)[0]) is None
    with pytest.raises(Exception) as raised:
        inputs.read_member(damaged, 0, "d.zip!DSLD/1.json", read_directory(damaged)[0])
    inputs._open_archive = None
    with pytest.raises(type(raised.value)) as without_entry:
        inputs.read_member(damaged, 0, "d.zip!DSLD/1.json")
    assert str(without_entry.value) == str(raised.value)


def test_a_member_stream_is_read_from_the_plan_entry(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip")
    listing = inputs.list_archive(path, "a.zip")
    tasks = [task for task, _ in listing.tasks]
    assert [t.entry for t in tasks] == list(read_directory(path)[:3])
    assert [inputs.read_task_bytes(t)[0] for t in tasks] == [LABEL, b"stored", b"{}"]
