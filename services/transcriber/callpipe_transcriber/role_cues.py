"""The words that tell an agent from a caller: the phrase lists role assignment counts.

Kept here, apart from the scoring in ``roles``, so a call center can read (and replace, through
``TRANSCRIBER_AGENT_PHRASES`` / ``TRANSCRIBER_CALLER_PHRASES``) what the assignment listens for.
All entries are lower case and matched as whole words on the lower-cased utterance text.

- ``AGENT_PHRASES``: greetings and the script of a contact-center agent (opening, identity checks,
  hold, resolution, closing). Generic courtesy that callers use as much ("thank you", "please",
  "of course") is left out: it would count for whoever is more polite.
- ``CALLER_PHRASES``: a customer stating why they call and what is theirs ("my bill", "I was
  charged", "I'm calling about").
- ``SECOND_PERSON`` / ``FIRST_PERSON`` / ``COMPANY_VOICE``: pronouns for the talk pattern. An agent
  talks about the customer's things ("your account", "can you confirm") and for the company ("we",
  "our"); a caller talks about their own ("I", "my"). Counted per speaker, as a share of words.
"""

from __future__ import annotations

__all__ = ["AGENT_PHRASES", "CALLER_PHRASES", "COMPANY_VOICE", "FIRST_PERSON", "SECOND_PERSON"]

AGENT_PHRASES: tuple[str, ...] = (
    # opening
    "thank you for calling",
    "thanks for calling",
    "thank you for contacting",
    "my name is",
    "this is",
    "speaking",
    "you have reached",
    "you've reached",
    "welcome to",
    "how can i help",
    "how may i help",
    "how can i assist",
    "how may i assist",
    "how can i direct",
    "what can i do for you",
    "customer service",
    # identity checks and fact finding
    "can i have your",
    "may i have your",
    "can i get your",
    "could i get your",
    "could you confirm",
    "can you confirm",
    "could you read",
    "can you spell",
    "could you spell",
    "may i ask",
    "could you",
    # working on it
    "let me check",
    "let me see",
    "let me look",
    "i can see",
    "i can help",
    "i will send",
    "i'll send",
    "bear with me",
    "one moment",
    "on hold",
    "for your patience",
    "i am sorry",
    "i'm sorry",
    "sorry for the inconvenience",
    "i apologize",
    # closing
    "is there anything else",
    "anything else i can",
    "have a nice day",
    "have a good",
    "have a great",
)

CALLER_PHRASES: tuple[str, ...] = (
    "i want to",
    "i would like",
    "i'd like",
    "i need",
    "i'm calling",
    "i am calling",
    "calling about",
    "calling because",
    "i have a question",
    "i was charged",
    "i ordered",
    "i received",
    "i was wondering",
    "can you help me",
    "could you help me",
    "cancel my",
    "my bill",
    "my account",
    "my internet",
    "my order",
    "my parcel",
    "my card",
    "my payment",
    "my phone",
    "has not arrived",
    "hasn't arrived",
    "hello?",
)

SECOND_PERSON: frozenset[str] = frozenset({"you", "your", "yours", "you're", "you've", "you'll"})
FIRST_PERSON: frozenset[str] = frozenset({"i", "my", "me", "mine", "i'm", "i've", "i'll", "i'd"})
COMPANY_VOICE: frozenset[str] = frozenset({"we", "our", "us", "we're", "we've", "we'll"})
