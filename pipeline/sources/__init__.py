"""Readers: one module per kind of label file, each turning a file into a FileExtraction."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UnreadableFile


def read_bytes(path: Path, source_file: str) -> bytes:
    """The file's bytes; a file that cannot be opened is rejected with the OS's reason."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(
            f"the file could not be opened: {exc.strerror or exc}", source_file=source_file
        ) from exc
