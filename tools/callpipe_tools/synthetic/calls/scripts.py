"""Built-in call scripts: the committed samples (samples/calls/) and the transcriber eval set.

Typical inbound support calls. The agent opens with a greeting, the way real calls do; two of
them (``billing_dispute`` mid-call, ``late_delivery`` at the start) break the pattern on purpose so
role assignment on mono audio is not tested only on the easy case.

``HELDOUT_SCRIPTS`` are a second set with other words, names, numbers and (for three of them)
other espeak-ng voices. Decoding settings are compared on both sets: a setting that only helps
on ``SAMPLE_SCRIPTS`` is tuned to those five calls, not better.
"""

from __future__ import annotations

from callpipe.models import Role
from callpipe_tools.synthetic.calls._script import CallScript, ScriptTurn, Voice

__all__ = ["HELDOUT_SCRIPTS", "SAMPLE_SCRIPTS", "sample_script"]

A, C = Role.AGENT, Role.CALLER

# What each call center would put in TRANSCRIBER_KEYTERMS: its own brand, nothing else of the
# script (no agent names, numbers or the words of the turns).
_BRANDS = {
    "billing_dispute": "Northwind Energy",
    "cancel_service": "Contoso Mobile",
    "internet_outage": "Fabrikam Internet",
    "address_change": "Tailspin Insurance",
    "late_delivery": "Wingtip Deliveries",
    "heldout_roaming": "Litware Telecom",
    "heldout_password": "Adventure Works",
    "heldout_appointment": "Lakeside Dental",
    "heldout_refund": "Proseware Electronics",
    "heldout_upgrade": "Relecloud",
}


def _script(
    call_id: str,
    *turns: tuple[Role, str] | tuple[Role, str, float],
    voices: tuple[Voice, Voice] | None = None,
) -> CallScript:
    extra = {"agent_voice": voices[0], "caller_voice": voices[1]} if voices else {}
    return CallScript(
        call_id=call_id,
        turns=[ScriptTurn(role=t[0], text=t[1], gap_before_s=t[2] if len(t) == 3 else 0.5) for t in turns],
        keyterms=[_BRANDS[call_id]] if call_id in _BRANDS else [],
        **extra,
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


HELDOUT_SCRIPTS: tuple[CallScript, ...] = (
    _script(
        "heldout_roaming",
        (A, "Thanks for calling Litware Telecom, this is Grace. What can I do for you?"),
        (C, "Hi Grace. I just got back from Spain and my phone bill shows eighty dollars of roaming."),
        (A, "Let me look at that. Did you buy a travel pass before you left?"),
        (C, "No, nobody told me I needed one."),
        (
            A,
            "I see. I can apply the travel pass price to your trip, which brings it down to fifteen dollars.",
        ),
        (C, "That sounds much better. Will it show on my next statement?"),
        (A, "Yes, the credit will appear within two billing cycles."),
        (C, "Great, thanks a lot for sorting that out."),
        (A, "My pleasure. Enjoy the rest of your week."),
        voices=(
            Voice(name="en-us+f4", speed_wpm=160, pitch=55),
            Voice(name="en-us+m1", speed_wpm=155, pitch=40),
        ),
    ),
    _script(
        "heldout_password",
        (A, "Adventure Works help desk, my name is Kevin. How may I help you?"),
        (C, "I am locked out of my email account. I typed the wrong password too many times."),
        (A, "No problem. Can you tell me your employee number?"),
        (C, "It is three eight one five."),
        (A, "Thanks. I have unlocked the account and sent a reset link to your phone."),
        (C, "I got the message. Should I choose a new password now?"),
        (A, "Yes, please pick one with at least twelve characters."),
        (C, "Done. I can log in again."),
        (A, "Perfect. Is there anything else I can help you with today?"),
        (C, "No, that was it. Bye."),
    ),
    _script(
        "heldout_appointment",
        (C, "Good afternoon, I would like to move my appointment with the dentist.", 0.0),
        (A, "Of course, you have reached Lakeside Dental, I am Maria. What is your name?"),
        (C, "Peter Brown. My appointment is on Thursday at ten in the morning."),
        (A, "I found it. We have an opening on Friday at two or on Monday at nine."),
        (C, "Friday at two works for me."),
        (A, "You are booked for Friday at two. We will send a reminder the day before."),
        (C, "Wonderful, thank you so much."),
        (A, "You are welcome. See you on Friday."),
        voices=(
            Voice(name="en-gb+f2", speed_wpm=155, pitch=65),
            Voice(name="en-us+m4", speed_wpm=150, pitch=30),
        ),
    ),
    _script(
        "heldout_refund",
        (A, "Thank you for calling Proseware Electronics. My name is Daniel. How can I help?"),
        (C, "I bought a coffee machine last month and it stopped working yesterday."),
        (A, "I am sorry to hear that. Do you have the order number?"),
        (C, "Yes, the order number is five five two zero seven."),
        (A, "Thank you. The machine is still under warranty, so you can choose a refund or a new one."),
        (C, "I would prefer a refund, please."),
        (A, "I have started the refund. A courier will collect the machine on Wednesday."),
        (C, "Do I need the original box?"),
        (A, "No, any box is fine. The refund goes to your card after we receive it."),
        (C, "Okay, thank you for your help."),
    ),
    _script(
        "heldout_upgrade",
        (A, "Good evening, welcome to Relecloud support. You are speaking with Nina."),
        (C, "Hello Nina. I want to upgrade my internet to the faster plan."),
        (A, "Sure. The faster plan costs ten dollars more each month and gives you five times the speed."),
        (C, "Is there a contract, or can I cancel any time?"),
        (A, "There is no contract. You can change your plan whenever you like."),
        (C, "Then please go ahead with the upgrade."),
        (A, "Done. The new speed will be active within one hour. Please restart your router then."),
        (C, "Thank you, I will do that."),
        voices=(
            Voice(name="en-us+f5", speed_wpm=170, pitch=50),
            Voice(name="en-gb+m2", speed_wpm=160, pitch=45),
        ),
    ),
)


def sample_script(call_id: str) -> CallScript:
    """The built-in script with that id."""
    for script in SAMPLE_SCRIPTS:
        if script.call_id == call_id:
            return script
    raise KeyError(f"no built-in script {call_id!r}; have {[s.call_id for s in SAMPLE_SCRIPTS]}")
