"""The offline analyzer's phrase lists and thresholds, in one place (English, support calls).

Rules bound to a taxonomy's labels are not here: which intents are a departure (``churn.intents``)
and which one is the information request (``inquiry_intent``) are configuration
(``analysis.yaml``), so a call center's own taxonomy names its own. What is here holds for any
taxonomy: how callers threaten to escalate, how agents commit to a task, how a call ends resolved,
how agents restate a request, and the thresholds the rules and the fallbacks use. Competitor
context and summary phrasing have their own lexicons (``competitor_lexicon``, ``summary_lexicon``).
Every threshold was chosen on the dev split of ``datasets/analyzer/calls.yaml`` only.
"""

from __future__ import annotations

import re

__all__ = [
    "AGENT_THRESHOLDS",
    "CALLER_COMMITMENT",
    "COMMITMENT",
    "DISMISSIVE_NEGATIVE",
    "ESCALATION_ALONE_P",
    "ESCALATION_ALONE_SCORE",
    "ESCALATION_HIGH_P",
    "ESCALATION_HIGH_SCORE",
    "ESCALATION_MEDIUM_P",
    "ESCALATION_MEDIUM_SCORE",
    "HIGH_ESCALATION",
    "INQUIRY",
    "KEYWORD_BONUS",
    "MAX_ACTION_ITEMS",
    "MAX_TOPICS",
    "MEDIUM_ESCALATION",
    "MIN_TASK_WORDS",
    "NOT_A_TASK",
    "REQUEST",
    "RESOLVED",
    "RESTATEMENT",
    "SENTENCE",
    "TOPIC_TEXT_LIMIT",
    "YES_SIMILARITY",
]

# -- sentences ---------------------------------------------------------------------------------

SENTENCE = re.compile(r"(?<=[.!?])\s+")

# -- intent (offline/intent.py) ----------------------------------------------------------------

# Zero-shot intent without a fitted model: per configured keyword in the caller's words, at most two.
KEYWORD_BONUS = 0.08
# The agent naming the request back: "so you'd like to…", "I can help you with…", "so you're…".
RESTATEMENT = re.compile(
    r"\b(so you(?:'d| would) like|so you(?:'re| are)|so you want|you(?:'d| would) like to|"
    r"you want(?:ed)? to|so we(?:'re| are)|i can (?:help|assist)(?: you)? with|"
    r"(?:it )?sounds like|let(?:'s| us) (?:get|fix|sort|take care of|look at)|happy to help with|"
    r"you(?:'re| are) (?:calling|looking) (?:about|to|for))\b",
    re.IGNORECASE,
)
# Asking for something ("can I add…", "I want…") makes a question a request, not an inquiry.
REQUEST = re.compile(
    r"\b(want|need|like to|i'd like|add|buy|get me|sign (?:me )?up|upgrade|cancel|switch|close|pay|"
    r"change|update|fix|refund|order|send|move|transfer|remove|charged|bill(?:ed)? )",
    re.IGNORECASE,
)
# A caller who says outright that nothing is wrong and they only ask.
INQUIRY = re.compile(
    r"\b(quick question|just (?:wondering|curious|want(?:ed)? to (?:know|check|ask|understand))|"
    r"not calling about a problem|nothing(?:'s| is) wrong|i was wondering|is it true)\b",
    re.IGNORECASE,
)

# -- sentiment (offline/sentiment_rollup.py) ---------------------------------------------------

# Without a fitted model only: an agent in a support call is courteous by default, so the
# caller-tuned thresholds (-0.12, 0.3) called most agents neutral. Chosen on the 96 dev calls'
# agent labels: 46 % → 69 % (always "positive" would be 65 %: VADER alone reads agents poorly).
AGENT_THRESHOLDS = {"negative_below": -0.5, "positive_above": 0.05}
# Distinct dismissive agent phrases (callpipe_analyzer.sentiment) that make the agent negative.
DISMISSIVE_NEGATIVE = 2
# The caller's last turns that say the call ended resolved (raises satisfaction).
RESOLVED = re.compile(
    r"\b(works now|working now|working again|that fixed it|thank you so much|thanks so much|"
    r"appreciate (?:it|your help|that)|that's great|that's perfect|perfect|great, thanks)\b",
    re.IGNORECASE,
)

# -- escalation (offline/escalation.py) --------------------------------------------------------

# Explicit escalation cues: supervisor, complaint, legal, regulators, social media.
HIGH_ESCALATION = re.compile(
    r"\b(supervisor|manager|escalate|formal complaint|file a complaint|lawyer|attorney|sue|legal action|"
    r"better business bureau|bbb|fcc|attorney general|report you|social media|i(?:'m| am) done with)\b",
    re.IGNORECASE,
)
# Frustration cues: repeated contact, "unacceptable", "waste of my time".
MEDIUM_ESCALATION = re.compile(
    r"\b(not happy|unacceptable|ridiculous|frustrat\w*|(?:second|third|fourth) time|still (?:not|no)|"
    r"how many times|waste of (?:my )?time|disappoint\w*)\b",
    re.IGNORECASE,
)
# With the sentiment model, its P(negative) for the caller (each dev call's from a model fitted
# without that call): an explicit cue from a caller this likely negative → high ...
ESCALATION_HIGH_P = 0.5
# ... a frustration cue from a caller this likely negative → medium ...
ESCALATION_MEDIUM_P = 0.3
# ... no cue, but the caller is almost surely negative → medium.
ESCALATION_ALONE_P = 0.8
# Without it, the same three on the caller's VADER roll-up (below this score).
ESCALATION_HIGH_SCORE = -0.1
ESCALATION_MEDIUM_SCORE = -0.15
ESCALATION_ALONE_SCORE = -0.35

# -- action items (offline/action_items.py) ----------------------------------------------------

# An agent commits to a task: "I'll send", "we will credit", "you'll receive", "I've scheduled".
COMMITMENT = re.compile(
    r"\b(i(?:'ll| will)|we(?:'ll| will)|i(?:'m| am) going to|we(?:'re| are) going to|let me|"
    r"you(?:'ll| will) (?:receive|get|see)|i(?:'ve| have) (?:scheduled|submitted|sent|opened|applied|"
    r"credited|escalated|booked|set up|ordered|issued|created|put in)|i just (?:sent|scheduled|applied|"
    r"submitted|issued)|expect (?:a|an|the)|should (?:arrive|see|receive))\b",
    re.IGNORECASE,
)
# ... unless it is a courtesy or a step within the call ("let me check", "I'll be happy to").
NOT_A_TASK = re.compile(
    r"\b(let me (?:know|see|check|look|pull|just|get your|have|confirm|verify)|"
    r"i(?:'ll| will) be (?:happy|glad)|"
    r"have a (?:great|good|nice)|i'll hold|one moment|bear with)\b",
    re.IGNORECASE,
)
# A caller commits to a task of their own.
CALLER_COMMITMENT = re.compile(
    r"\b(i(?:'ll| will) (?:call|send|check|pay|return|mail|bring|try|restart))\b", re.IGNORECASE
)
MIN_TASK_WORDS = 4  # "I'll do it." is no task a supervisor can follow up
MAX_ACTION_ITEMS = 8

# -- topics (offline/topics.py) ----------------------------------------------------------------

MAX_TOPICS = 5
TOPIC_TEXT_LIMIT = 20000  # characters of the call the tagger reads (a long call's topics show early)

# -- custom questions (offline/questions.py) ---------------------------------------------------

# A yes/no question is "yes" when a sentence of the asked party is this close to one of its examples.
YES_SIMILARITY = 0.6
