"""Fixtures of the analyzer's unit tests."""

from __future__ import annotations

import pytest

from callpipe_analyzer.config import load_config
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer


@pytest.fixture(scope="session")
def offline() -> OfflineAnalyzer:
    """The offline analyzer with the bundled configuration and models, loaded once (seconds)."""
    return OfflineAnalyzer(load_config())
