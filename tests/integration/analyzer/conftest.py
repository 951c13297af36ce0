"""Fixtures of the analyzer's broker tests (helpers live in analyzer_it_support)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.analyzer.analyzer_it_support import Topics


@pytest.fixture
def topics(kafka_bootstrap: str, new_topic: Callable[..., str]) -> Topics:
    return Topics(kafka_bootstrap, new_topic)
