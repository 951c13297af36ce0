"""The competitor matcher on surface forms written for this test (possessives, punctuation, case)."""

from __future__ import annotations

import pytest

from callpipe_analyzer.offline.analyzer import OfflineAnalyzer


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Honestly Verizon's deal is better than yours.", "Verizon"),
        ("I think I'm going with AT&T.", "AT&T"),
        ("My sister is with AT&T, and she pays less.", "AT&T"),
        ("at&t offered me a free phone", "AT&T"),
        ("AT and T's price is lower", "AT&T"),
        ("the guy at at & t said so", "AT&T"),
        ("I was with ATT before.", "AT&T"),
        ("T-Mobile's plan has Netflix", "T-Mobile"),
        ("T Mobile has better coverage here", "T-Mobile"),
        ("tmobile gave me two hundred off", "T-Mobile"),
        ("my buddy at t-mobile says hi", "T-Mobile"),
        ("I'm moving to T\u2011Mobile.", "T-Mobile"),  # a non-breaking hyphen, as some keyboards type
        ("comcast's offer came in the mail", "Xfinity"),
        ("Fios is cheaper on my street.", "Verizon"),
        ("Google Fi's international rates are better?", "Google Fi"),
        ("When I was with Mint, it just slowed down.", "Mint Mobile"),
        ("I'm switching to Spectrum!", "Spectrum"),
    ],
)
def test_competitor_surface_forms(offline: OfflineAnalyzer, text: str, name: str) -> None:
    found = offline._competitor_mentions([text])
    assert [m.name for m in found] == [name]
    assert found[0].context == text  # the context is the caller's words, not the normalised text


@pytest.mark.parametrize(
    "text",
    [
        "There's a whole spectrum of options, I know.",  # the English word, not the brand
        "I'd love a mint tea right now.",
        "I've been with Acme Mobile for ten years.",  # our own brand
        "Acme Fiber is great, thanks.",
        "I called at about ten.",
    ],
)
def test_no_competitor_in_ordinary_words_or_own_brand(offline: OfflineAnalyzer, text: str) -> None:
    assert offline._competitor_mentions([text]) == []


def test_mentions_are_counted_across_turns(offline: OfflineAnalyzer) -> None:
    found = offline._competitor_mentions(["Verizon called me.", "Yes, verizon's offer.", "T-Mobile too."])
    assert {(m.name, m.count) for m in found} == {("Verizon", 2), ("T-Mobile", 1)}
