"""Open-set competitors: companies outside the configured list, named in a competitive context."""

from __future__ import annotations

import pytest

from callpipe.models import Role
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I'm thinking about switching to Sprint, their plan is cheaper.", "Sprint"),
        ("We run a small office. RingCentral was cheaper per seat.", "RingCentral"),
        ("My old provider, Cox, never charged me for the modem.", "Cox"),
        ("Boost Mobile offered me a free phone if I bring my number over.", "Boost Mobile"),
        ("I might go with US Cellular instead.", "US Cellular"),
        ("I was with CenturyLink before and they never had outages.", "CenturyLink"),
        ("So I'm leaving for HughesNet.", "HughesNet"),
        ("Frontier has a promo for gig fiber, can you match that?", "Frontier"),
    ],
)
def test_unconfigured_company_in_competitive_context(offline: OfflineAnalyzer, text: str, name: str) -> None:
    assert [m.name for m in offline._competitor_mentions([text])] == [name]


@pytest.mark.parametrize(
    "text",
    [
        "I'm moving to Denver in June and want to keep my service.",  # a place, not a company
        "My Chase card was declined when I tried to pay.",  # a company, no competitive context
        "I switched to the Premium plan and it's better than the old one.",
        "I've been with Acme Mobile for ten years, it's better than anything.",  # the own brand
        "Before I called, I restarted the Samsung TV.",
        "I read that Frontier had an outage yesterday.",  # a company named, no competitive context
    ],
)
def test_no_open_set_competitor(offline: OfflineAnalyzer, text: str) -> None:
    assert offline._competitor_mentions([text]) == []


def test_only_the_callers_words_and_canonical_names(offline: OfflineAnalyzer) -> None:
    turns = [
        (Role.AGENT, "Some customers switch to Sprint for the price."),  # the agent's words: not open set
        (Role.CALLER, "Comcast quoted me less, and honestly Sprint was cheaper too."),
        (Role.CALLER, "Comcast's offer is still better than this."),
    ]
    found = offline._competitor_mentions([t for _, t in turns], [r for r, _ in turns])
    # Comcast is a configured alias of Xfinity (reported under its configured name, every mention).
    assert {(m.name, m.count) for m in found} == {("Xfinity", 2), ("Sprint", 1)}
    assert next(m for m in found if m.name == "Sprint").context == turns[1][1]


def test_the_analysis_reports_them(offline: OfflineAnalyzer) -> None:
    from .offline_calls import analysis_request

    request = analysis_request(
        [
            (Role.AGENT, "Thank you for calling Acme, how can I help?"),
            (Role.CALLER, "I want to cancel. I'm switching to Optimum next week."),
        ]
    )
    assert [m.name for m in offline.analyze_sync(request).competitor_mentions] == ["Optimum"]


@pytest.mark.parametrize(
    ("handle", "name"),
    [
        ("SouthwestAir", "Southwest"),
        ("DeltaAssist", "Delta"),
        ("SpiritAirPR", "Spirit"),
        ("VirginAtlantic", "Virgin Atlantic"),
        ("united", "United"),
        ("AirCanada", "Air Canada"),
        ("USAirways", "US Airways"),
        ("Ask_Spectrum", "Spectrum"),
        ("TMobileHelp", "T Mobile"),
    ],
)
def test_an_at_handle_names_its_company(handle: str, name: str) -> None:
    from callpipe_analyzer.offline.competitors import handle_name

    assert handle_name(handle) == name


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # Written messages (chat, social): the company behind an @handle in a competitive sentence.
        ("@Acme I should have flown @SouthwestAir, the fares are lower.", ["Southwest"]),
        ("@Acme Thank god for @DeltaAssist, they got me home.", ["Delta"]),
        (
            "@Acme you're not the only one: @JetBlue and @AlaskaAir will get my business.",
            ["Jet Blue", "Alaska"],
        ),
        # Sentence-level cue with an organisation the NER sees, anywhere in the sentence.
        ("Honestly the support at Starlink was better last year.", ["Starlink"]),
        ("Our company moved the phones over to RingCentral, the price was better.", ["RingCentral"]),
        # "Southwest" and "Southwest Airlines" are one company in one call.
        ("I'm switching to Southwest Airlines. Southwest is cheaper anyway.", ["Southwest Airlines"]),
    ],
)
def test_competitive_sentences_name_companies(offline: OfflineAnalyzer, text: str, names: list[str]) -> None:
    assert [m.name for m in offline._competitor_mentions([text])] == names


@pytest.mark.parametrize(
    "text",
    [
        "@Acme @Cox you are both terrible.",  # addressees copied in, no competitive context
        "They rebooked me with Lufthansa and the seat was better.",  # a partner handling the trip
        "The Better Business Bureau will hear about this, your service is worse than ever.",
        "Flying IAH-DFW tomorrow, better be on time.",  # a route, not a company
        "Great read on cheaper fares via @usatodaytravel",  # where a link came from
        "My Chase card was declined, which is worse than last month.",  # a card the caller has
        "I use my Samsung phone and the signal is better outside.",  # a device
        "The agent Mike was better than the last one.",  # a person
        "@Acme any chance you can speed up check-in at @FlyYOW?",  # "fly" inside a name is no cue
    ],
)
def test_no_competitor_in_these_sentences(offline: OfflineAnalyzer, text: str) -> None:
    assert offline._competitor_mentions([text]) == []


def test_a_tagged_company_in_a_message_is_a_competitor(offline: OfflineAnalyzer) -> None:
    # Written channels: a customer tagging another company in the body of a message to us.
    turns = ["@Acme changed our flight 6 times. Bumped to @AlaskaAir now and having a great trip."]
    assert [m.name for m in offline._competitor_mentions(turns)] == ["Alaska"]


@pytest.mark.parametrize(
    "text",
    [
        "@Acme flight 3744 departs @PHLAirport at noon.",  # an airport, not a company to choose
        "@Acme I WAS BETTER OFF WITH NO POWER AT ALL, THIS IS DEAD.",  # shouted words are no names
        "@Acme they rebooked me on @Lufthansa, thanks.",  # a partner handling the trip
    ],
)
def test_no_competitor_in_these_messages(offline: OfflineAnalyzer, text: str) -> None:
    assert offline._competitor_mentions([text]) == []
