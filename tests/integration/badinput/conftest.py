"""The ingest app over a tmp-dir store and an in-memory acknowledging sender (as the unit tests)."""

from tests.unit.ingest.conftest import client, sender, settings, store

__all__ = ["client", "sender", "settings", "store"]
