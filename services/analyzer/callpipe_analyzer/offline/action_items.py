"""Action items: the agent's commitments ("I'll send", "we will credit", "you'll receive") and the
caller's own ("I'll call back"), one per sentence, without courtesies or steps within the call.
"""

from __future__ import annotations

from collections.abc import Sequence

from callpipe.models import ActionItem, Role, Utterance
from callpipe_analyzer.offline.lexicon import (
    CALLER_COMMITMENT,
    COMMITMENT,
    MAX_ACTION_ITEMS,
    MIN_TASK_WORDS,
    NOT_A_TASK,
    SENTENCE,
)

__all__ = ["action_items"]


def action_items(utterances: Sequence[Utterance]) -> list[ActionItem]:
    items: list[ActionItem] = []
    seen: set[str] = set()
    for u in utterances:
        for sentence in SENTENCE.split(u.text):
            if u.role is Role.AGENT:
                ok = COMMITMENT.search(sentence) and not NOT_A_TASK.search(sentence)
                owner = Role.AGENT
            else:
                ok = bool(CALLER_COMMITMENT.search(sentence))
                owner = Role.CALLER
            text = sentence.strip()
            if ok and len(text.split()) >= MIN_TASK_WORDS and text.lower() not in seen:
                seen.add(text.lower())
                items.append(ActionItem(text=text, owner=owner))
    return items[:MAX_ACTION_ITEMS]
