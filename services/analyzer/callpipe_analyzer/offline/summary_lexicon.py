"""Word lists and patterns of the offline summary (:mod:`callpipe_analyzer.offline.summary`).

Kept apart from the code so a call center can read (and change) what the summary treats as
noise, as a greeting, as a question or a request, and how first-person speech is turned into
the third person a supervisor reads ("I was charged twice" → "they were charged twice").
"""

from __future__ import annotations

import re

__all__ = [
    "AGENT_REQUEST",
    "COMPLAINT",
    "DETAILS_ONLY",
    "FILLER_SENTENCE",
    "LEADING_GREETING",
    "NOISE",
    "PROCEDURAL_SENTENCE",
    "RESOLVED",
    "SIGNATURE",
    "THIRD_PERSON_AGENT",
    "THIRD_PERSON_CALLER",
    "WANTS",
    "YES_NO_QUESTION",
]

# Text that carries no content in a transcript or a support chat: handles, links, hashtag signs,
# "1/2" part counters.
NOISE = re.compile(r"@\w+|https?://\S+|\(?\b\d\s*/\s*\d\)?|\(?½\)?|#")
# An agent's initials at the end of a turn ("^RMD", "-AC", "/PK", "*JS").
SIGNATURE = re.compile(r"\s*(?:[\^/*~-]\s?[A-Z]{2,4}\d?|-\s?[A-Z][a-z]?)\s*$")
# A greeting or address in front of a sentence with content ("Hi Salustiano, if you were …").
LEADING_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|dear)(?: there| all| team| [A-Z][a-z]+)?|good (?:morning|afternoon|evening)"
    r"(?: [A-Z][a-z]+)?|thanks for (?:reaching out|getting in touch|the (?:info|details|update))|"
    r"(?:ok(?:ay)?|so|well|um+|uh+|yes|yeah|yep|no|sure|alright|right|hi|hello|exactly|great|perfect|got it|"
    r"just remember|of course|absolutely)(?=[,!]))[,!.]*\s+",
    re.IGNORECASE,
)
# Sentences that say nothing about the case: greetings, thanks, apologies, sign-offs.
FILLER_SENTENCE = re.compile(
    r"^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|thanks?|thank you|thx|ok(?:ay)?|"
    r"sorry|we(?:'re| are) (?:so |really |very )?sorry|i(?:'m| am) (?:so |really |very )?sorry|"
    r"we apologi[sz]e|i apologi[sz]e|no problem|you(?:'re| are) welcome|have a (?:good|great|nice)|"
    r"great|perfect|cool|will do|yes|no|yeah|sure)\b[^.?!]{0,40}[.?!]*$",
    re.IGNORECASE,
)
# A call's procedural openings and closings: not what the call was about, wherever they stand.
PROCEDURAL_SENTENCE = re.compile(
    r"\b(?:anything else (?:i|we) can|is there anything else|thank(?:s| you) for (?:calling|contacting|"
    r"choosing|reaching|your patience|holding|waiting)|have a (?:great|good|nice|wonderful) (?:day|evening|"
    r"night|weekend)|my name is|this is \w+ (?:speaking|from)|how (?:can|may) i (?:help|assist)|"
    r"you(?:'re| are) welcome|(?:bear|stay) with me|one moment|let me (?:pull|look|check)|"
    r"can i (?:get|have) your (?:name|account)|verify (?:your|the) (?:identity|account))\b",
    re.IGNORECASE,
)
# The customer states what they want: "they want to cancel …" → "The customer wants to cancel …".
WANTS = re.compile(r"^they (?:want|would like|need|are trying|are looking) to (?P<rest>.+)$", re.IGNORECASE)
# A yes/no question after the third-person rewrite: "can they move …" → "whether they can move …".
YES_NO_QUESTION = re.compile(
    r"^(?P<aux>can|could|will|would|should|may|is|are|was|were|do|does|did|have|has)\s+"
    r"(?P<subject>the company|the customer|they|it|this|that|there|their \w+|the \w+)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# A sentence that only gives details asked for (account or phone numbers, a spelled name).
_DIGIT = r"(?:\d|zero|oh|one|two|three|four|five|six|seven|eight|nine)"
DETAILS_ONLY = re.compile(
    rf"^(?:[^a-z]*\d[^a-z]*|(?:it's|it is|that's|sure|yes)?[\s,]*{_DIGIT}(?:[\s,.-]+{_DIGIT}){{2,}}\b.*)$",
    re.IGNORECASE,
)
# The caller complains rather than asks.
COMPLAINT = re.compile(
    r"\b(?:not working|doesn'?t work|won'?t|can'?t|cannot|still|again|never|worst|terrible|"
    r"awful|ridiculous|unacceptable|disappoint\w*|frustrat\w*|delay\w*|cancel+ed|broken|wrong|"
    r"charged|overcharged|declined|refused|failed|damaged|late|lost|missing|"
    r"no one|nobody|horrible|poor|issue|problem)\b",
    re.IGNORECASE,
)
# An agent sentence that asks the customer to do something: "Please DM us", "Can you send …".
AGENT_REQUEST = re.compile(
    r"^(?:please\s+|kindly\s+|can you\s+|could you\s+|would you\s+|will you\s+|feel free to\s+|"
    r"you (?:can|could|may|should|will need to|need to)\s+)(?P<rest>.+)$",
    re.IGNORECASE,
)
# The caller confirms the problem is solved or thanks the agent at the end.
RESOLVED = re.compile(
    r"\b(?:works now|working now|working again|that fixed it|fixed|sorted|resolved|thank(?:s| you)|"
    r"appreciate|perfect|great help)\b",
    re.IGNORECASE,
)


def _words(pairs: dict[str, str]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(rf"\b{re.escape(k)}\b", re.IGNORECASE), v) for k, v in pairs.items()]


# First person → third person, longest forms first (applied in order).
THIRD_PERSON_CALLER = _words(
    {
        "I'm": "they are",
        "I’m": "they are",
        "Im": "they are",
        "I've": "they have",
        "I’ve": "they have",
        "I'll": "they will",
        "I’ll": "they will",
        "I'd": "they would",
        "I’d": "they would",
        "I am": "they are",
        "I was": "they were",
        "I": "they",
        "me": "them",
        "my": "their",
        "mine": "theirs",
        "myself": "themselves",
        "we're": "they are",
        "we’re": "they are",
        "we've": "they have",
        "we": "they",
        "us": "them",
        "our": "their",
        "your": "the company's",
        "you": "the company",
        "u": "the company",
        "ur": "the company's",
    }
)
THIRD_PERSON_AGENT = _words(
    {
        "we're": "they are",
        "we’re": "they are",
        "we've": "they have",
        "we’ve": "they have",
        "we'll": "they will",
        "we’ll": "they will",
        "I'm": "they are",
        "I’m": "they are",
        "I'll": "they will",
        "I’ll": "they will",
        "I've": "they have",
        "I’ve": "they have",
        "we": "they",
        "us": "them",
        "our": "their",
        "I": "they",
        "me": "them",
        "my": "their",
        "you're": "the customer is",
        "you’re": "the customer is",
        "you've": "the customer has",
        "you’ve": "the customer has",
        "you'll": "the customer will",
        "you’ll": "the customer will",
        "your": "their",
        "you": "the customer",
    }
)
