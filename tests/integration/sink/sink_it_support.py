"""Constants and helpers shared by the sink's integration tests (imported by name: rootdir import)."""

from __future__ import annotations

from datetime import UTC, datetime

# Seeded data ends here; the insights app's clock is pinned to it.
SEED_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "test-token-0123456789abcdef"
