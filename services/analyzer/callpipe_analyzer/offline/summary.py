"""The offline summary: two or three whole sentences in the third person, as a supervisor reads.

1. What the customer wanted: the caller's first substantive sentences (greetings and thanks
   skipped), rewritten in the third person: "The customer asks whether …", "The customer
   complains that …", "The customer says that …".
2. What the agent did: the agent's most informative turn (chosen by position among the agent's
   substantive sentences), as "The agent asks the customer to …" for a request or "The agent
   says that …" otherwise.
3. The outcome, when the caller's last turns confirm it ("The customer confirms the issue is
   resolved.") or an open follow-up the agent committed to.

Every sentence is a whole sentence of the call (never cut mid-sentence) or a fixed frame; the
word budget drops whole sentences. The choices (which agent turn, how many caller sentences, the
word budget) were made by ROUGE-L on the dev part of TweetSumm (``callpipe bench summaries``).
Word lists and patterns are in :mod:`callpipe_analyzer.offline.summary_lexicon`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callpipe.models import Role
from callpipe_analyzer.offline import summary_lexicon as lex

__all__ = ["SummaryOptions", "summarize"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SummaryOptions:
    """The choices measured on the dev part (defaults = the chosen ones)."""

    caller_words: int = 14  # word budget of the customer sentence (whole sentences only)
    caller_min_words: int = 4  # shorter caller sentences ("Slightly awkward.") say too little
    agent_words: int = 30  # word budget of the agent sentence
    agent_turn: str = "last"  # which substantive agent turn: "first", "last" or "longest"
    outcome: bool = False  # add the outcome sentence when the caller confirms it


def _clean(text: str) -> str:
    text = lex.SIGNATURE.sub("", lex.NOISE.sub(" ", text))
    return _SPACES.sub(" ", text).strip(" -:;,")


def _sentences(text: str) -> list[str]:
    found = []
    for raw in _SENTENCE_END.split(_clean(text)):
        sentence = lex.LEADING_GREETING.sub("", raw.strip(" -:;,")).strip(" -:;,")
        if (
            len(sentence.split()) >= 2
            and not lex.FILLER_SENTENCE.match(sentence)
            and not lex.PROCEDURAL_SENTENCE.search(sentence)
        ):
            found.append(sentence)
    return found


def _within(sentences: list[str], budget: int) -> list[str]:
    """Whole sentences from the start while they fit the budget (always at least one)."""
    kept: list[str] = []
    words = 0
    for sentence in sentences:
        n = len(sentence.split())
        if kept and words + n > budget:
            break
        kept.append(sentence)
        words += n
    return kept


def _third_person(text: str, table: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in table:
        text = pattern.sub(replacement, text)
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _period(text: str) -> str:
    text = text.rstrip(" .!?,;:")
    return text + "."


def _customer_sentence(sentences: list[str], options: SummaryOptions) -> str:
    kept = _within(sentences, options.caller_words)
    body = _third_person(" ".join(s.rstrip("?!.") for s in kept), lex.THIRD_PERSON_CALLER)
    if kept[0].rstrip().endswith("?"):
        frame = "The customer asks"
        if not body.lower().startswith(("how", "what", "why", "when", "where", "who", "which")):
            question = lex.YES_NO_QUESTION.match(body)
            if question:
                aux = question.group("aux").lower()
                verb = "" if aux in ("do", "does", "did") else f" {aux}"
                body = f"{question.group('subject')}{verb} {question.group('rest')}"
            body = "whether " + _lower_first(body)
        return _period(f"{frame} {_lower_first(body)}")
    wants = lex.WANTS.match(body)
    if wants:
        return _period(f"The customer wants to {wants.group('rest')}")
    verb = "complains that" if lex.COMPLAINT.search(" ".join(kept)) else "says that"
    return _period(f"The customer {verb} {_lower_first(body)}")


def _agent_sentence(sentences: list[str], options: SummaryOptions) -> str:
    kept = _within(sentences, options.agent_words)
    parts: list[str] = []
    for sentence in kept:
        request = lex.AGENT_REQUEST.match(sentence.rstrip("?!."))
        if request:
            rest = _third_person(request.group("rest"), lex.THIRD_PERSON_AGENT)
            parts.append(f"asks the customer to {_lower_first(rest)}")
        else:
            parts.append(
                f"says that {_lower_first(_third_person(sentence.rstrip('?!.'), lex.THIRD_PERSON_AGENT))}"
            )
    return _period("The agent " + " and ".join(parts))


def summarize(turns: Sequence[tuple[Role, str]], options: SummaryOptions | None = None) -> str:
    """The summary of a call given its (role, text) turns in time order."""
    options = options or SummaryOptions()
    caller = [
        s
        for role, text in turns
        if role is not Role.AGENT
        for s in _sentences(text)
        if len(s.split()) >= options.caller_min_words and not lex.DETAILS_ONLY.match(s)
    ]
    agent_turns = [
        (i, found)
        for i, (role, text) in enumerate(turns)
        if role is Role.AGENT
        if (found := _sentences(text))
    ]
    parts: list[str] = []
    if caller:
        parts.append(_customer_sentence(caller, options))
    if agent_turns:
        if options.agent_turn == "first":
            chosen = agent_turns[0][1]
        elif options.agent_turn == "longest":
            chosen = max(agent_turns, key=lambda t: sum(len(s.split()) for s in t[1]))[1]
        else:
            chosen = agent_turns[-1][1]
        parts.append(_agent_sentence(chosen, options))
    if options.outcome and caller:
        last_caller = " ".join(text for role, text in turns[-3:] if role is not Role.AGENT)
        if lex.RESOLVED.search(last_caller):
            parts.append("The customer thanks the agent.")
    return " ".join(parts) if parts else "No speech to summarize."
