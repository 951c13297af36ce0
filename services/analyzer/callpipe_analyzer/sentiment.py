"""Utterance sentiment (VADER plus call-center cues) and how it is rolled up per speaker.

VADER alone scores "I'll just switch to another carrier, thanks" as positive and averages hide an
angry caller who is polite at the end. So: per utterance, VADER's compound score is
shifted by phrase cues that mean frustration or churn in a support call; per speaker, negative and
late turns weigh more than positive and early ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from callpipe.models import SentimentLabel

__all__ = ["AGENT_CUES", "SentimentScorer", "agent_cues", "dismissive_phrases", "label_for", "speaker_score"]

# Phrases that VADER's general-purpose lexicon misses or scores as neutral/positive in this domain.
_NEGATIVE_CUES = re.compile(
    r"\b(cancel|switch(?:ing)? to|fed up|ridiculous|unacceptable|waste of (?:my )?time|"
    r"(?:second|third|fourth|fifth) time|still (?:not|isn't|doesn't|hasn't|no)|nobody (?:called|told|fixed)|"
    r"supervisor|manager|complaint|lawyer|attorney|better business bureau|bbb|fcc|"
    r"never (?:again|showed|arrived|received)|been on hold|on hold for|hours? on (?:the phone|hold)|"
    r"not happy|not okay|stress\w*|worried|can't (?:pay|afford)|lost my job|not acceptable|"
    r"frustrat\w*|annoy\w*|angry|upset|disappoint\w*|"
    r"this is a joke|rip ?off|scam|overcharg\w*|charged twice|double charged|no one|keeps? dropping|"
    r"doesn't work|don't work|not working|stopped working|can't believe|how many times|"
    r"months? now|weeks? now|every (?:single )?month|tired of|"
    # Worry and impatience that VADER reads as positive through negation ("can't keep losing",
    # "don't want to lose") or as praise ("it better get fixed").
    r"can't keep|cannot keep|don't want to lose|afraid|scared|what now|"
    r"(?:it|this|you)(?:'d| had)? better (?:get|be|work|fix)|nothing (?:works|changed|happened))\b",
    re.IGNORECASE,
)
_POSITIVE_CUES = re.compile(
    r"\b(that(?:'s| is) (?:great|perfect|wonderful|awesome)|you(?:'ve| have) been (?:very |so |really )?"
    r"helpful|appreciate (?:it|that|your help)|thank you so much|thanks so much|problem solved|"
    r"works (?:now|perfectly|great)|working (?:now|again)|that fixed it|much better|love (?:it|that))\b",
    re.IGNORECASE,
)


# Courtesy formulae every caller says ("okay, thanks", "have a nice day") carry no sentiment in a
# support call, but VADER scores them clearly positive; they are removed before scoring.
_COURTESY = re.compile(
    r"\b(thank you(?: very much)?|thanks(?: a lot)?|okay|ok|alright|all right|please|you're welcome|"
    r"sure|have a (?:nice|good|great) (?:day|one|evening)|good (?:morning|afternoon|evening)|hi|hello|"
    r"congratulations|happy to help|of course|good to know|good idea|sounds good|nice)\b",
    re.IGNORECASE,
)


# A greeting followed by a name ("Hi Rob", "Thanks, Joy"): the name carries no sentiment, but
# VADER knows some names as words ("rob" is negative, "joy" positive).
_GREETING_NAME = re.compile(r"\b(?i:hi|hello|hey|thanks|thank you)[,\s]+[A-Z][a-z]+\b")
# A short acknowledgement ("Okay, great.", "Perfect, thanks.") is conversational glue, not praise:
# at most this many words left after the courtesy formulae are removed.
_ACK_WORDS = 2
_ACK = re.compile(r"\b(great|perfect|awesome|wonderful|excellent|cool|fine|good)\b", re.IGNORECASE)


class SentimentScorer:
    """Scores one utterance from -1 to 1. Thread-safe after construction."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def score(self, text: str, *, strip_courtesy: bool = True) -> float:
        """``strip_courtesy=False`` for agents: their politeness is part of how they come across."""
        if not text.strip():
            return 0.0
        core = _COURTESY.sub(" ", _GREETING_NAME.sub(" ", text)) if strip_courtesy else text
        if strip_courtesy and len(core.split()) <= _ACK_WORDS:
            core = _ACK.sub(" ", core)
        compound = float(self._vader.polarity_scores(core)["compound"]) if core.strip(" .,!?") else 0.0
        negatives = len(_NEGATIVE_CUES.findall(text))
        positives = len(_POSITIVE_CUES.findall(text))
        # Cues move the score decisively: one churn cue outweighs VADER's "thanks" in the same turn.
        adjusted = compound - 0.45 * negatives + 0.35 * positives
        if negatives and compound > 0:
            adjusted = min(adjusted, -0.2)
        return max(-1.0, min(1.0, adjusted))


# What the agent says tells how the caller feels: agents apologise and empathise with an unhappy
# caller and share a happy one's pleasure, in words a lexicon reads as neutral or as the agent's
# own mood. Each cue is 1 when any agent turn has it: how many times an agent says sorry grows with
# the call's length more than with the caller's mood.
AGENT_CUES = ("agent_apology", "agent_empathy", "agent_gladness")
_AGENT_CUE_PATTERNS = (
    re.compile(r"\b(sorry|apologi[sz]e|apologies)\b", re.IGNORECASE),
    re.compile(
        r"\b(frustrat\w*|understand|must be|i hear you|that's not okay|not good enough)\b", re.IGNORECASE
    ),
    re.compile(
        r"\b(glad|happy to hear|my pleasure|congratulations|exciting|lovely|fantastic|enjoy)\b", re.IGNORECASE
    ),
)


def agent_cues(agent_texts: Sequence[str]) -> tuple[int, ...]:
    """Per ``AGENT_CUES`` entry, 1 when one of the agent's turns contains it, else 0."""
    return tuple(int(any(pattern.search(t) for t in agent_texts)) for pattern in _AGENT_CUE_PATTERNS)


# What call-center quality teams flag as dismissive agent language: blaming the customer, refusing
# without an alternative, talking down. Negative agents are rare in the labelled calls (6 of 208
# dev calls), too few for the fitted model to learn, so the analyzer applies these as a rule: two
# distinct phrases make the agent negative (on the dev calls: 5 of the 6 negative agents, none of
# the other 202).
_DISMISSIVE = tuple(
    re.compile(r"\b" + pattern, re.IGNORECASE)
    for pattern in (
        r"customer'?s responsibility",
        r"nothing (?:else )?(?:i|we) can do",
        r"you should(?: have|'ve)",
        r"like everyone else",
        r"not my (?:problem|fault|department)",
        r"calm down",
        r"i can only go by",
        r"that's what \w+ means",
        r"it'?s (?:all )?in the (?:instructions|terms|contract|fine print)",
        r"on (?:the phone's|your) (?:side|end)",
        r"you didn't (?:hear|read|check|follow)",
        r"(?:i|we) can't promise",
        r"doesn't matter",
        r"as i (?:said|told you|already said)",
        r"i already told you",
        r"you'll (?:just )?have to wait",
        r"(?:i|we) can't override",
        r"that's (?:just )?(?:the|our) policy",
        r"there's nothing wrong (?:on|with) our",
        r"read the",
    )
)


def dismissive_phrases(agent_texts: Sequence[str]) -> int:
    """How many distinct dismissive phrases the agent's turns contain."""
    return sum(1 for pattern in _DISMISSIVE if any(pattern.search(t) for t in agent_texts))


def speaker_score(scores: Sequence[float]) -> float:
    """One score for a party: late turns weigh up to 2×, negative turns 1.5× more."""
    if not scores:
        return 0.0
    n = len(scores)
    total = 0.0
    weights = 0.0
    for i, s in enumerate(scores):
        w = (1.0 + (i / max(1, n - 1))) * (1.5 if s < -0.05 else 1.0)
        # Near-neutral turns ("okay", "mm-hmm") say little about how the party feels.
        if abs(s) < 0.05:
            w *= 0.3
        total += w * s
        weights += w
    return total / weights if weights else 0.0


def label_for(score: float, *, negative_below: float = -0.12, positive_above: float = 0.3) -> SentimentLabel:
    if score <= negative_below:
        return SentimentLabel.NEGATIVE
    if score >= positive_above:
        return SentimentLabel.POSITIVE
    return SentimentLabel.NEUTRAL
