"""A card number never survives redaction: hypothesis-generated Luhn-valid numbers, written or spoken."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from callpipe.models import Role, Utterance
from callpipe_analyzer.redaction import Redactor, luhn_valid

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


cards = (
    st.integers(min_value=12, max_value=18)
    .flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))
    .filter(lambda b: b[0] != "0")
    .map(luhn_complete)
)


def speak(digits: str, style: str) -> list[str]:
    if style == "digits":
        return [digits[i : i + 4] for i in range(0, len(digits), 4)]
    out = []
    for d in digits:
        out.append("oh" if d == "0" and style == "oh" else WORDS[int(d)])
    return out


def U(role: Role, text: str, i: int) -> Utterance:
    return Utterance(
        role=role, speaker="ch0" if role is Role.CALLER else "ch1", start_s=i, end_s=i + 0.9, text=text
    )


def leaked(card: str, texts: list[str]) -> bool:
    joined = " ".join(texts).lower()
    for w, d in zip(WORDS, "0123456789", strict=True):
        joined = re.sub(rf"\b{w}\b", d, joined)
    joined = re.sub(r"\boh\b", "0", joined)
    only_digits = re.sub(r"\D", "", joined)
    return card in only_digits


@settings(max_examples=150, deadline=None)
@given(
    card=cards,
    style=st.sampled_from(["digits", "words", "oh"]),
    cuts=st.lists(st.integers(1, 18), max_size=3),
    backchannel=st.booleans(),
    sep=st.sampled_from([" ", ", ", " - ", ". "]),
)
def test_card_never_survives(card: str, style: str, cuts: list[int], backchannel: bool, sep: str) -> None:
    tokens = speak(card, style)
    bounds = sorted({c % len(tokens) for c in cuts if c % len(tokens) > 0})
    pieces = [tokens[a:b] for a, b in zip([0, *bounds], [*bounds, len(tokens)], strict=True)]
    utterances = [U(Role.AGENT, "Can I have the card number please?", 0)]
    for i, piece in enumerate(pieces):
        prefix = "Sure, it's " if i == 0 else ""
        utterances.append(U(Role.CALLER, prefix + sep.join(piece), 2 * i + 1))
        if backchannel and i < len(pieces) - 1:
            utterances.append(U(Role.AGENT, "Mm-hmm.", 2 * i + 2))
    result = Redactor().redact(utterances)
    texts = [u.text for u in result.utterances]
    assert not leaked(card, texts), texts
    assert result.counts.get("card_number", 0) >= 1
    assert any("[CARD_NUMBER]" in t for t in texts)


def test_cvv_expiry_ssn_email_phone() -> None:
    utts = [
        U(Role.CALLER, "It's 4111 1111 1111 1111, expires 04/27 and the security code is 737.", 0),
        U(
            Role.CALLER,
            "My social is 123-45-6789 and email jane.doe@example.com or jane dot doe at gmail dot com.",
            1,
        ),
        U(Role.CALLER, "Call me back on 555-201-4489.", 2),
    ]
    result = Redactor().redact(utts)
    text = " ".join(u.text for u in result.utterances)
    for secret in ("4111", "04/27", "737", "6789", "jane", "4489"):
        assert secret not in text, text
    assert {"card_number", "card_security", "ssn", "email", "phone"} <= set(result.counts)


def test_ordinary_numbers_stay() -> None:
    utts = [U(Role.CALLER, "I was charged 89 dollars twice on the 14th for 2 lines.", 0)]
    result = Redactor().redact(utts)
    assert result.utterances[0].text == utts[0].text
    assert result.counts == {}


def test_disabled_redaction_changes_nothing() -> None:
    from callpipe_analyzer.redaction import RedactorOptions

    utts = [U(Role.CALLER, "4111 1111 1111 1111", 0)]
    assert Redactor(RedactorOptions(enabled=False)).redact(utts).utterances[0].text == "4111 1111 1111 1111"
