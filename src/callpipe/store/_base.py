"""The recording store contract: where raw call audio is archived, addressed by URI.

Ingest writes the audio once under a key it derives (content hash, RecordingSid); every later
stage only ever sees the URI in the event (``file:///abs/path`` or ``s3://bucket/key``). Both
implementations share the key rules here, so a key that is valid locally is valid on S3 and a
hostile key (``../../etc/passwd``) is refused before it reaches a filesystem or a bucket.
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from callpipe.errors import InvalidInputError

__all__ = ["RecordingNotFoundError", "RecordingStore", "validate_key"]

# Letters, digits and a few separators per segment: portable across filesystems and S3, and no
# character that a shell, a URL or Windows would interpret.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._=+@-]{0,199}\Z")
_MAX_KEY = 900  # S3 allows 1024 bytes; leave room for a bucket prefix


class RecordingNotFoundError(InvalidInputError):
    """The URI points to no stored object (deleted by retention, or never written).

    Permanent: an event whose audio is gone cannot be processed by retrying.
    """


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise InvalidInputError."""
    if not key or len(key) > _MAX_KEY:
        raise InvalidInputError(f"recording key must be 1..{_MAX_KEY} characters, got {len(key)}")
    for segment in key.split("/"):
        if not _SEGMENT.match(segment) or segment in {".", ".."}:
            raise InvalidInputError(
                f"recording key {key!r} has an invalid segment {segment!r} "
                "(allowed: letters, digits, '._=+@-', not starting with '.', '=', '+', '@' or '-')"
            )
    return key


class RecordingStore(Protocol):
    """Archive of raw audio. All methods are async; blocking I/O runs in worker threads."""

    def uri_for(self, key: str) -> str:
        """The URI ``put(key, …)`` returns, without writing anything."""
        ...

    def key_of(self, uri: str) -> str:
        """The key of a URI this store produced (the inverse of ``uri_for``); InvalidInputError
        for a URI of another store."""
        ...

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` under ``key`` (replacing it atomically) and return its URI."""
        ...

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> str:
        """Store the file at ``path`` under ``key`` without reading it all into memory."""
        ...

    async def get(self, uri: str) -> bytes:
        """The bytes at ``uri``; RecordingNotFoundError when there are none."""
        ...

    def local_path(self, uri: str) -> AbstractAsyncContextManager[Path]:
        """A local file holding the object for the duration of the block (temp copy for S3)."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def delete(self, uri: str) -> None:
        """Remove the object; deleting what is already gone is not an error (retention re-runs)."""
        ...

    async def aclose(self) -> None:
        """Release clients and threads."""
        ...
