"""The offline summary: third person, whole sentences, the request and the answer."""

from __future__ import annotations

import re

from callpipe.models import Role
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
from callpipe_analyzer.offline.summary import SummaryOptions, summarize

from .offline_calls import analysis_request

C, A = Role.CALLER, Role.AGENT


def test_request_and_answer_in_the_third_person() -> None:
    summary = summarize(
        [
            (A, "Thank you for calling, my name is Dana, how can I help you today?"),
            (C, "Hi, yeah. I was charged twice for my internet this month."),
            (A, "I'm sorry about that. I'll refund the duplicate charge and you'll see it in five days."),
            (C, "Okay, thanks."),
            (A, "Is there anything else I can help you with today?"),
        ]
    )
    assert summary == (
        "The customer complains that they were charged twice for their internet this month. "
        "The agent says that they will refund the duplicate charge and the customer will see it in five days."
    )


def test_question_and_agent_request() -> None:
    summary = summarize(
        [
            (C, "@Support Can I move my plan to a new address?"),
            (A, "@1234 Please DM us your new address. ^AB"),
        ]
    )
    assert summary == (
        "The customer asks whether they can move their plan to a new address. "
        "The agent asks the customer to DM them their new address."
    )


def test_details_and_greetings_are_not_the_request() -> None:
    summary = summarize(
        [
            (C, "Hello."),
            (C, "Yes, it's five five five, eight two three, four one zero six."),
            (C, "My router drops the connection every night."),
            (A, "I will send a technician on Friday."),
        ]
    )
    assert summary.startswith("The customer says that their router drops the connection every night.")


def test_whole_sentences_only_within_the_budget() -> None:
    first = "My order never arrived and the tracking page has shown the same status for nine days now."
    second = "I also want to change the delivery address for the next one."
    summary = summarize(
        [(C, f"{first} {second}"), (A, "We will resend it today.")], SummaryOptions(caller_words=14)
    )
    # The first sentence alone is over the budget: it is kept whole, the second is dropped whole.
    assert "nine days now." in summary
    assert "delivery address" not in summary
    # Every sentence of the summary is complete: it ends with a full stop, none is cut mid-word.
    assert all(s.endswith(".") for s in re.split(r"(?<=\.)\s+", summary))


def test_one_party_or_no_speech() -> None:
    assert summarize([]) == "No speech to summarize."
    assert summarize([(A, "Hello? Hello?")]) == "No speech to summarize."
    assert summarize([(C, "My card was declined at the store.")]) == (
        "The customer complains that their card was declined at the store."
    )


def test_the_analyzer_reports_it(offline: OfflineAnalyzer) -> None:
    request = analysis_request(
        [
            (C, "I want to cancel my television service, we never watch it."),
            (A, "I have cancelled the TV part and your next bill drops by forty dollars."),
        ]
    )
    summary = offline.analyze_sync(request).summary
    assert summary == (
        "The customer wants to cancel their television service, they never watch it. "
        "The agent says that they have cancelled the TV part and their next bill drops by forty dollars."
    )
