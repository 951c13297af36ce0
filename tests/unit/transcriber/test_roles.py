"""Role assignment on diarized speakers: phrase cues, the company's name, talk pattern, flag."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from callpipe.models import Role
from callpipe.store import LocalRecordingStore
from callpipe_transcriber.__main__ import build_ports
from callpipe_transcriber.engines.base import EngineRequest, EngineResult
from callpipe_transcriber.role_cues import AGENT_PHRASES, CALLER_PHRASES
from callpipe_transcriber.roles import RoleCues, assign_roles
from callpipe_transcriber.settings import TranscriberSettings


def test_cue_lists_match_lowercased_text() -> None:
    # Utterances are lower-cased before matching: an entry with capitals or padding never matches.
    for phrase in (*AGENT_PHRASES, *CALLER_PHRASES):
        assert phrase == phrase.lower().strip()
    assert not set(AGENT_PHRASES) & set(CALLER_PHRASES)


def test_company_name_in_the_opening_marks_the_agent() -> None:
    # The caller speaks first and nobody uses a scripted phrase: the brand said in the opening
    # (the configured keyterm) is what tells the agent.
    speech = [
        ("spk0", 0.0, "Hi there, the printer stopped working after the update."),
        ("spk1", 3.0, "Relecloud, good afternoon."),
        ("spk0", 6.0, "It shows an error on the screen."),
    ]
    without = assign_roles(speech, RoleCues())
    with_brand = assign_roles(speech, RoleCues(), brands=("Relecloud",))
    assert without.roles["spk0"] is Role.AGENT  # first speaker, nothing else to go by
    assert with_brand.roles == {"spk0": Role.CALLER, "spk1": Role.AGENT}
    assert with_brand.evidence["spk1"] > with_brand.evidence["spk0"]


def test_brand_said_late_is_not_a_greeting() -> None:
    speech = [
        ("spk0", 0.0, "Good afternoon, how can I help?"),
        ("spk1", 40.0, "I switched to Relecloud last year."),
    ]
    assert assign_roles(speech, RoleCues(), brands=("Relecloud",)).roles["spk1"] is Role.CALLER


def test_talk_pattern_carries_the_call_when_the_greeting_was_missed() -> None:
    # No greeting heard (it fell before the recording started): the speaker who talks about
    # "your" things and for "we" is the agent, the one who talks about "my" things the caller,
    # whoever spoke first.
    speech = [
        ("spk0", 0.0, "Yes so my flight was moved and my bag is in the wrong city and I am stuck here."),
        ("spk1", 5.0, "Okay, we see your booking. We will move your bag to your hotel, you get a voucher."),
        ("spk0", 11.0, "Fine, I hope my bag gets there tonight."),
        ("spk1", 14.0, "Your bag is on our next flight, you will have it tonight."),
    ]
    no_pattern = assign_roles(speech, replace(RoleCues(), pattern_weight=0.0))
    result = assign_roles(speech, RoleCues())
    assert no_pattern.roles["spk0"] is Role.AGENT  # only the first-speaker habit left
    assert result.roles == {"spk0": Role.CALLER, "spk1": Role.AGENT}
    # Without a single phrase or brand cue the roles still rest on habits: flagged, never silent.
    assert result.low_confidence


def test_clear_script_phrases_are_not_flagged() -> None:
    speech = [
        ("spk0", 0.0, "Thank you for calling, my name is Ann. How can I help you today?"),
        ("spk1", 4.0, "Hi, I'm calling about my bill, I was charged twice."),
        ("spk0", 9.0, "I'm sorry about that. Can you confirm your account number?"),
    ]
    result = assign_roles(speech, RoleCues())
    assert result.roles == {"spk0": Role.AGENT, "spk1": Role.CALLER}
    assert not result.low_confidence
    assert result.confidence > 0.9


class _NoEngine:
    name, model = "none", "none"

    async def warm_up(self) -> None:
        return None

    async def transcribe(self, request: EngineRequest) -> EngineResult:  # pragma: no cover - not called
        raise AssertionError("not called")

    async def aclose(self) -> None:
        return None


async def test_caller_phrases_setting_replaces_the_built_in_list(tmp_path: Path) -> None:
    settings = TranscriberSettings(caller_phrases=["my claim"], agent_phrases=["claims desk"])
    async with httpx.AsyncClient() as http:
        ports = build_ports(settings, http, LocalRecordingStore(tmp_path), _NoEngine())
    assert ports.cues.caller_phrases == ("my claim",)
    assert ports.cues.agent_phrases == ("claims desk",)
    default = TranscriberSettings()
    async with httpx.AsyncClient() as http:
        ports = build_ports(default, http, LocalRecordingStore(tmp_path), _NoEngine())
    assert ports.cues.caller_phrases == CALLER_PHRASES
