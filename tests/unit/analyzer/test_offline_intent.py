"""The offline analyzer's intent vote on calls written for this test (not from the labelled set)."""

from __future__ import annotations

import pytest

from callpipe.models import Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.sentiment import SentimentScorer


@pytest.fixture(scope="module")
def offline() -> OfflineAnalyzer:
    return OfflineAnalyzer(load_config())


def request(turns: list[tuple[Role, str]]) -> AnalysisRequest:
    scorer = SentimentScorer()
    utts = [
        Utterance(role=r, speaker=r.value, start_s=4.0 * i, end_s=4.0 * i + 3.5, text=t)
        for i, (r, t) in enumerate(turns)
    ]
    return AnalysisRequest(call_id="CA-t", utterances=utts, sentiments=[scorer.score(t) for _, t in turns])


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
    analysis = offline.analyze_sync(request(turns))
    assert analysis.intent == intent


def test_small_talk_only_still_gets_a_label(offline: OfflineAnalyzer) -> None:
    analysis = offline.analyze_sync(request([(Role.CALLER, "Hello?"), (Role.AGENT, "Hi, Acme.")]))
    assert analysis.intent in load_config().intents
