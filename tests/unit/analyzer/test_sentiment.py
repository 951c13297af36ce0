"""Call-center sentiment cues on top of VADER, and the per-speaker roll-up."""

from __future__ import annotations

import pytest

from callpipe.models import SentimentLabel
from callpipe_analyzer.sentiment import SentimentScorer, label_for, speaker_score


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer()


@pytest.mark.parametrize(
    "text",
    [
        "So what now? I can't keep losing my connection in meetings.",
        "Please, I don't want to lose my phone, I need it for job interviews.",
        "Okay. It better get fixed this time.",
        "This is the third time I'm calling about this.",
        "This is ridiculous, I'll just switch to another carrier, thanks.",
    ],
)
def test_worry_impatience_and_churn_are_negative(scorer: SentimentScorer, text: str) -> None:
    # VADER alone scores each of these as neutral or positive (negated negatives, "better", "thanks").
    assert scorer.score(text) < -0.1


def test_a_greeted_name_is_not_a_word(scorer: SentimentScorer) -> None:
    # VADER knows "rob" as a verb; after a greeting it is the agent's name.
    assert scorer.score(
        "Hi Rob, just checking on my installation appointment for Saturday."
    ) == pytest.approx(0.0, abs=0.05)


def test_short_acknowledgements_are_not_praise(scorer: SentimentScorer) -> None:
    assert abs(scorer.score("Okay, great.")) < 0.05
    assert abs(scorer.score("Perfect, thanks.")) < 0.05
    # Real praise still counts.
    assert scorer.score("Oh wow, that's great. You've been so helpful.") > 0.3


def test_agents_keep_their_courtesy(scorer: SentimentScorer) -> None:
    text = "Thank you so much for your patience, have a great day."
    assert scorer.score(text, strip_courtesy=False) > scorer.score(text)


def test_an_angry_caller_polite_at_the_end_stays_negative(scorer: SentimentScorer) -> None:
    turns = [
        "I've been on hold for an hour and this is the third time I'm calling.",
        "Fine.",
        "Okay, thanks.",
    ]
    assert label_for(speaker_score([scorer.score(t) for t in turns])) is SentimentLabel.NEGATIVE
