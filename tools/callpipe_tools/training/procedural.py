"""Procedural exchanges for teaching and checking that a call's length does not change its mood.

Real calls run to dozens of turns, most of them verification, holds and read-backs; the labelled
calls are short. ``train`` inserts these exchanges in the middle of each dev call: one set is
added to the training rows (the label stays: a hold does not change how the caller feels), the
other, worded differently, checks the cross-validated models on calls they were not taught with.
Written for callpipe.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CHECK_TURNS", "FIT_TURNS", "with_procedural_turns"]

FIT_TURNS: list[tuple[str, str]] = [
    ("agent", "Can I have the account holder's full name, please?"),
    ("caller", "Yes, it's under my name."),
    ("agent", "And the zip code on the account?"),
    ("caller", "It's nine oh two one two."),
    ("agent", "Thank you. Give me one moment while I pull that up."),
    ("caller", "Sure."),
    ("agent", "I'm just going through the notes on the account now."),
    ("caller", "Okay."),
    ("agent", "Can you confirm the last four digits of the phone number on file?"),
    ("caller", "Four four one nine."),
    ("agent", "Bear with me, the system is a little slow today."),
    ("caller", "No problem."),
    ("agent", "I'm going to place you on a brief hold while I check with my team."),
    ("caller", "Alright."),
    ("agent", "Thank you for holding."),
    ("caller", "Mm-hmm."),
    ("agent", "Let me just read back what I have on the account."),
    ("caller", "Go ahead."),
    ("agent", "Your plan renews on the fifteenth of each month."),
    ("caller", "Right, that sounds right."),
]
CHECK_TURNS: list[tuple[str, str]] = [
    ("agent", "Before we go on, could you verify your date of birth?"),
    ("caller", "March third, nineteen eighty."),
    ("agent", "Thanks. And the email address we have for you?"),
    ("caller", "It's my first name at the usual one."),
    ("agent", "I'm opening the account now, one second."),
    ("caller", "Take your time."),
    ("agent", "The page is loading, just a moment."),
    ("caller", "That's fine."),
    ("agent", "Okay, I can see the account. Is this still the best number to reach you?"),
    ("caller", "Yes, this number."),
    ("agent", "I'm noting that down on the ticket."),
    ("caller", "Okay."),
    ("agent", "I need to check something with billing, may I put you on hold for two minutes?"),
    ("caller", "Yes, go ahead."),
    ("agent", "Thanks for waiting."),
    ("caller", "Sure thing."),
    ("agent", "So the account was opened in twenty nineteen, is that right?"),
    ("caller", "Yes, I think so."),
    ("agent", "And you have one line and the internet service."),
    ("caller", "That's correct."),
]


def with_procedural_turns(call: dict[str, Any], turns: list[tuple[str, str]]) -> dict[str, Any]:
    """A copy of a labelled call with ``turns`` inserted after an even number of its turns near
    the middle (so agent/caller alternation is kept)."""
    original = call["turns"]
    middle = len(original) // 2
    middle -= middle % 2
    return {**call, "turns": [*original[:middle], *[list(t) for t in turns], *original[middle:]]}
