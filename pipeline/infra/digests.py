"""Content digests (sha256, hex) of files and bytes: the one definition the extraction
cache, the stages' done markers, corrections and the unchanged run's key share. Standard
library only, so the light modules (pipeline.rerun, asked by the CLI before any stage is
imported) can use it."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Files are hashed in reads of this many bytes.
_CHUNK_SIZE = 1024 * 1024


def file_digest(path: Path) -> str:
    """sha256 of the file's content (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()


def bytes_digest(data: bytes) -> str:
    """sha256 of `data` (hex): the digest of a member read from an archive, or of the
    bytes a worker read, as `file_digest` is of a file."""
    return hashlib.sha256(data).hexdigest()
