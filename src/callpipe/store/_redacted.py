"""How a redacted copy of a recording is named beside its original.

The analyzer writes the copy (card numbers bleeped) as ``<original key>.pci-redacted.wav`` and
names it as the call's ``audio_uri``; erasure and retention find the original from it.
"""

from __future__ import annotations

__all__ = ["REDACTED_SUFFIX", "original_uri_of", "redacted_key_of"]

REDACTED_SUFFIX = ".pci-redacted.wav"


def redacted_key_of(key: str) -> str:
    """The redacted copy's key of a recording's key (a copy's own key stays as it is)."""
    return key if key.endswith(REDACTED_SUFFIX) else key + REDACTED_SUFFIX


def original_uri_of(uri: str) -> str | None:
    """The original recording's URI of a redacted copy's URI (None for any other URI)."""
    return uri[: -len(REDACTED_SUFFIX)] if uri.endswith(REDACTED_SUFFIX) else None
