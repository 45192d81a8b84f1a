"""A zip's central directory read by hand, and a member read at its local header.

`read_directory(path)` gives the members of the zip at `path`, in the order of its central
directory, as `Entry` tuples holding what zipfile.ZipInfo holds for them (the same names
and values as `zipfile.ZipFile(path).infolist()`), without a ZipInfo object per member.
Only a plain archive is read by hand: the end record in the file's last 22 bytes (no
archive comment), no zip64 record, every directory entry sound, no zip64 extra field, no
name with a NUL; anything else is read by zipfile itself, so an archive zipfile cannot read
raises exactly what zipfile raises.

`read_at(handle, entry)` reads a stored or deflated member from its local header, and gives
its bytes only when they are exactly the member's (the local header's name is the
directory's, the inflated stream ends at the member's size, its CRC-32 is the member's);
None when it cannot tell (an encrypted member, a data descriptor, another compression
method, any mismatch): the caller then reads it with zipfile, which says what is wrong.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple


class Entry(NamedTuple):
    """One member, as zipfile.ZipInfo has it (its attribute names)."""

    filename: str
    orig_filename: str
    CRC: int  # (ZipInfo's name)
    compress_size: int
    file_size: int
    header_offset: int
    flag_bits: int
    compress_type: int

    @classmethod
    def of(cls, info: zipfile.ZipInfo) -> Entry:
        return cls(
            info.filename,
            info.orig_filename,
            info.CRC,
            info.compress_size,
            info.file_size,
            info.header_offset,
            info.flag_bits,
            info.compress_type,
        )


_END = struct.Struct("<4s4H2LH")  # the end of central directory record (22 bytes)
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"  # 20 bytes, just before the end record
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # a central directory entry (46 bytes)
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # a local file header (30 bytes)
_LOCAL_SIGNATURE = b"PK\x03\x04"
_UTF8_NAME = 0x800
_MAX_EXTRACT_VERSION = 63  # zipfile.MAX_EXTRACT_VERSION
_ZIP64_EXTRA = 0x0001
_FULL = 0xFFFFFFFF  # a 32-bit field whose value is in the zip64 extra field
#: Encrypted, data descriptor, compressed patched data, strong encryption: read by zipfile.
_NOT_AT_HEADER = 0x1 | 0x8 | 0x20 | 0x40


def read_directory(path: Path) -> tuple[Entry, ...]:
    """The members of the zip at `path` (`zipfile.ZipFile(path).infolist()`'s values);
    raises what zipfile raises for an archive it cannot read."""
    try:
        with open(path, "rb") as handle:
            found = _plain_directory(handle)
    except (OSError, ValueError, struct.error):
        found = None
    if found is not None:
        return found
    with zipfile.ZipFile(path) as archive:
        return tuple(Entry.of(info) for info in archive.infolist())


def _plain_directory(handle: BinaryIO) -> tuple[Entry, ...] | None:
    """The directory of a plain archive (see the module's doc), or None."""
    size = handle.seek(0, 2)
    if size < _END.size:
        return None
    handle.seek(size - _END.size - 20 if size >= _END.size + 20 else 0)
    tail = handle.read()
    end = tail[-_END.size :]
    signature, disk, cd_disk, _, count, cd_size, cd_offset, comment = _END.unpack(end)
    if signature != _END_SIGNATURE or comment or disk or cd_disk:
        return None
    if len(tail) >= _END.size + 20 and tail[:4] == _ZIP64_LOCATOR:
        return None
    start = size - _END.size - cd_size  # zipfile's offset_cd + concat
    if start < 0 or count == 0xFFFF or cd_size == _FULL or cd_offset == _FULL:
        return None
    concat = start - cd_offset
    handle.seek(start)
    data = handle.read(cd_size)
    if len(data) != cd_size:
        return None
    entries: list[Entry] = []
    unpack = _CENTRAL.unpack_from
    at = 0
    while at < cd_size:
        if at + _CENTRAL.size > cd_size:
            return None
        (
            signature,
            _,
            _,
            extract_version,
            _,
            flags,
            method,
            _,
            _,
            crc,
            compress_size,
            file_size,
            name_length,
            extra_length,
            comment_length,
            _,
            _,
            _,
            header_offset,
        ) = unpack(data, at)
        if signature != _CENTRAL_SIGNATURE or extract_version > _MAX_EXTRACT_VERSION:
            return None
        if _FULL in (compress_size, file_size, header_offset):
            return None
        at += _CENTRAL.size
        raw_name = data[at : at + name_length]
        extra = data[at + name_length : at + name_length + extra_length]
        at += name_length + extra_length + comment_length
        if at > cd_size or len(raw_name) != name_length or not _plain_extra(extra):
            return None
        name = raw_name.decode("utf-8" if flags & _UTF8_NAME else "cp437")
        if "\0" in name:
            return None
        entries.append(
            Entry(
                name,
                name,
                crc,
                compress_size,
                file_size,
                header_offset + concat,
                flags,
                method,
            )
        )
    return tuple(entries)


def _plain_extra(extra: bytes) -> bool:
    """Whether zipfile reads this extra field without changing an entry (well formed, no
    zip64 field)."""
    while len(extra) >= 4:
        kind, length = struct.unpack_from("<HH", extra)
        if length + 4 > len(extra) or kind == _ZIP64_EXTRA:
            return False
        extra = extra[length + 4 :]
    return True


def read_at(handle: BinaryIO, entry: Entry) -> bytes | None:
    """The bytes of the member `entry` of the zip open as `handle`, read from its local
    header; None when they cannot be read so or are not exactly the member's (see the
    module's doc)."""
    if entry.flag_bits & _NOT_AT_HEADER or entry.compress_type not in (
        zipfile.ZIP_STORED,
        zipfile.ZIP_DEFLATED,
    ):
        return None
    try:
        handle.seek(entry.header_offset)
        header = handle.read(_LOCAL.size)
        if len(header) != _LOCAL.size:
            return None
        fields = _LOCAL.unpack(header)
        if fields[0] != _LOCAL_SIGNATURE:
            return None
        name_length, extra_length = fields[10], fields[11]
        raw_name = handle.read(name_length)
        name = raw_name.decode("utf-8" if fields[3] & _UTF8_NAME else "cp437")
        if name != entry.orig_filename:
            return None
        handle.seek(extra_length, 1)
        raw = handle.read(entry.compress_size)
        if len(raw) != entry.compress_size:
            return None
        if entry.compress_type == zipfile.ZIP_STORED:
            data = raw
        else:
            inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            data = inflate.decompress(raw, entry.file_size + 1)
            if not inflate.eof:
                return None
    except (OSError, ValueError, zlib.error):
        return None
    if len(data) != entry.file_size or zlib.crc32(data) != entry.CRC:
        return None
    return data
