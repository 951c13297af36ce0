"""Built-in call scripts: the committed samples (samples/calls/) and the transcriber eval set.

Typical inbound support calls. The agent opens with a greeting, the way real calls do; two of
them (``billing_dispute`` mid-call, ``late_delivery`` at the start) break the pattern on purpose so
role assignment on mono audio is not tested only on the easy case.
"""

from __future__ import annotations

from callpipe.models import Role
from callpipe.synthetic._script import CallScript, ScriptTurn

__all__ = ["SAMPLE_SCRIPTS", "sample_script"]

A, C = Role.AGENT, Role.CALLER


def _script(call_id: str, *turns: tuple[Role, str] | tuple[Role, str, float]) -> CallScript:
    return CallScript(
        call_id=call_id,
        turns=[ScriptTurn(role=t[0], text=t[1], gap_before_s=t[2] if len(t) == 3 else 0.5) for t in turns],
    )


SAMPLE_SCRIPTS: tuple[CallScript, ...] = (
    _script(
        "billing_dispute",
        (A, "Thank you for calling Northwind Energy, my name is Sarah. How can I help you today?"),
        (C, "Hi Sarah. I was charged twice on my last bill and I would like a refund."),
        (A, "I am sorry about that. Can I have your account number, please?"),
        (C, "Sure, it is four five seven two nine one."),
        (A, "Thank you. I can see two payments for the same invoice."),
        (C, "Right, that is what I saw too. This is the second time it has happened.", 0.4),
        (A, "I will refund the duplicate charge today. It should reach your card within five days."),
        (C, "Okay, thank you. Can you make sure it does not happen again?"),
        (A, "Yes, I have turned off the second payment method on your account."),
        (C, "Great, that is all I needed. Thanks for your help."),
        (A, "You are welcome. Have a nice day."),
    ),
    _script(
        "cancel_service",
        (A, "Good morning, thank you for calling Contoso Mobile. This is David speaking."),
        (C, "Hello, I want to cancel my contract. I found a cheaper plan with another carrier."),
        (A, "I understand. May I ask which plan you are looking at?"),
        (C, "They offer unlimited data for thirty dollars a month."),
        (A, "I can match that price and add a free month if you stay with us."),
        (C, "Really? That would be fine, as long as the price stays the same next year."),
        (A, "The price is locked for twelve months. I will send you the details by email."),
        (C, "Okay, then I will stay. Thank you."),
        (A, "Thank you for staying with us. Is there anything else I can help with?"),
        (C, "No, that is everything. Goodbye."),
    ),
    _script(
        "internet_outage",
        (A, "Thank you for calling Fabrikam Internet support, my name is Emma. How can I help?"),
        (C, "My internet has been down since this morning and I work from home."),
        (A, "I am sorry to hear that. Let me check your line. Can you confirm your postcode?"),
        (C, "Yes, it is two one zero four."),
        (A, "Thank you. There is an outage in your area. Engineers are working on it now."),
        (C, "How long will it take? I have meetings all afternoon."),
        (A, "It should be fixed by three o'clock. I will add a credit to your account for today."),
        (C, "Okay. Please send me a text message when it is back."),
        (A, "I have set up a text alert for you. Is there anything else?"),
        (C, "No, thank you."),
    ),
    _script(
        "address_change",
        (A, "Hello, thank you for calling Tailspin Insurance. My name is Olivia. How may I help you?"),
        (C, "Hi, I am moving next week and I need to update my address."),
        (A, "Of course. What is the new address?"),
        (C, "It is twelve Park Lane, in Springfield."),
        (A, "Thank you. Your home policy will move with you. The new premium is a little lower."),
        (C, "Oh, that is good news. When does the change start?"),
        (A, "From the day you move. I will email you the updated policy documents today."),
        (C, "Perfect. Thank you very much."),
        (A, "You are welcome, and good luck with the move."),
    ),
    _script(
        "late_delivery",
        (C, "Hello? Is this the delivery service? My parcel has not arrived.", 0.0),
        (A, "Yes, you have reached Wingtip Deliveries, my name is James. I can help with that."),
        (C, "I ordered a laptop ten days ago and the tracking has not changed for a week."),
        (A, "I am sorry. Could you read me the tracking number, please?"),
        (C, "It is W T nine eight three three."),
        (A, "Thank you. The parcel was held at our depot because the label was damaged."),
        (C, "That is frustrating. I need the laptop for work on Monday."),
        (A, "I will send it with express delivery tomorrow at no cost to you."),
        (C, "Okay, thank you. I will watch for it."),
        (A, "Thank you for your patience. Have a good evening."),
    ),
)


def sample_script(call_id: str) -> CallScript:
    """The built-in script with that id."""
    for script in SAMPLE_SCRIPTS:
        if script.call_id == call_id:
            return script
    raise KeyError(f"no built-in script {call_id!r}; have {[s.call_id for s in SAMPLE_SCRIPTS]}")
