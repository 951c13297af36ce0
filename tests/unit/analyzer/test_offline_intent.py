"""The offline analyzer's intent vote on calls written for this test (not from the labelled set)."""

from __future__ import annotations

import pytest

from callpipe.models import Role
from callpipe_analyzer.config import load_config
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
from tests.unit.analyzer.offline_calls import analysis_request


@pytest.mark.parametrize(
    ("intent", "turns"),
    [
        (
            "order_status",
            [
                (Role.AGENT, "Acme, this is Lou, how can I help?"),
                (
                    Role.CALLER,
                    "Hey, the phone I ordered was supposed to ship Monday and tracking shows nothing.",
                ),
                (Role.AGENT, "Let me look up the order. It's packed and ships out tonight."),
                (Role.CALLER, "Okay, thanks."),
            ],
        ),
        (
            "cancellation",
            [
                (Role.AGENT, "Thanks for calling Acme."),
                (Role.CALLER, "Yeah hi. I'd like to close my account, I'm moving overseas next month."),
                (Role.AGENT, "I can schedule the disconnection for the thirtieth."),
                (Role.CALLER, "That works."),
            ],
        ),
        (
            "technical_support",
            [
                (Role.AGENT, "Acme support, Kim speaking."),
                (Role.CALLER, "So, um, the TV box has been frozen on a black screen since this morning."),
                (Role.AGENT, "Let's restart it together, unplug it for ten seconds."),
                (Role.CALLER, "Okay, it's coming back now."),
            ],
        ),
    ],
)
def test_intent_of_unseen_calls(offline: OfflineAnalyzer, intent: str, turns: list[tuple[Role, str]]) -> None:
    analysis = offline.analyze_sync(analysis_request(turns))
    assert analysis.intent == intent


def test_small_talk_only_still_gets_a_label(offline: OfflineAnalyzer) -> None:
    analysis = offline.analyze_sync(analysis_request([(Role.CALLER, "Hello?"), (Role.AGENT, "Hi, Acme.")]))
    assert analysis.intent in load_config().intents
