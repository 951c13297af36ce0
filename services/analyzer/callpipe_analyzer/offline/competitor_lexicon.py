"""The competitive contexts the open-set competitor detector looks for
(:mod:`callpipe_analyzer.offline.competitors`).

A company the caller names counts as a competitor when the sentence puts it in a competitive
context: the caller is switching to it, was with it before, got a cheaper offer from it, compares
it with us. Each pattern holds a ``{name}`` slot where a capitalised name (or a spaCy ORG entity)
must stand; a configured competitor (``analysis.yaml``) counts wherever it is named.
"""

from __future__ import annotations

import re

__all__ = [
    "AIRPORT_HANDLE",
    "CODES",
    "COMPANY_ENTITIES",
    "COMPANY_SUFFIXES",
    "COMPETITIVE_CUES",
    "CONTEXT_PATTERNS",
    "CUE_ENTITIES",
    "HANDLE_PREFIXES",
    "HANDLE_SUFFIXES",
    "HANDLING_CUES",
    "NAME",
    "NOT_A_COMPANY",
    "NOT_COMPANY_ENTITIES",
    "NOT_COMPANY_HANDLE_WORDS",
    "NOT_COMPETITOR_ORGS",
    "NOT_NAMING_PREFIX",
    "PERSON_BEFORE",
    "PLACE_ENTITIES",
    "PLACE_PREPOSITION",
    "compiled_contexts",
    "compiled_cues",
]

# A brand as it is written: capitalised words, CamelCase, ALL CAPS, "AT&T", "8x8", up to three words.
NAME = r"(?P<name>(?:[A-Z][\w&'.+-]*|\d+x\d+)(?:\s+(?:[A-Z][\w&.+-]*|by|of)){0,3})"
_VERB_TO = (
    r"(?:switch(?:ing|ed)?|mov(?:e|ing|ed)|port(?:ing|ed)?|"
    r"jump(?:ing|ed)?|transfer(?:ring|red)?|head(?:ing)?)"
    r"(?:\s+(?:over|back|(?:my|our|the|all of our|all our)\s+(?:\w+\s+)?"
    r"(?:number|service|account|line|phone|business)s?))?\s+(?:to|for)"
)
_PREVIOUS = (
    r"(?:my|our)\s+(?:old|previous|former|last|current|other|new)\s+"
    r"(?:provider|carrier|company|airline|bank|service|vendor|plan|isp)"
)
_BETTER = r"(?:cheaper|better|faster|less|more reliable|nicer|lower|half the price)"
CONTEXT_PATTERNS: list[str] = [
    _VERB_TO.join([r"\b", r"\s+{name}"]),
    r"\b(?:go|going|went|signed up|sign up|signing up|stay(?:ed|ing)?|be|been|is|was|were|am|are)"
    r"\s+with\s+{name}",
    r"\bleav(?:e|ing)\s+(?:you\s+)?for\s+{name}",
    r"\b(?:join(?:ing|ed)?|choose|chose|choosing|pick(?:ed|ing)?|book(?:ed|ing)?(?: with)?|"
    r"fly(?:ing)?|flew|fly with|use|uses|using|used|used to use)\s+{name}",
    r"\b(?:had|have|has|used to have)\s+{name}\s+(?:for|before|until|back)",
    r"\b(?:buy|buying|bought|get|getting|got)\s+(?:a|an)\s+{name}\s+(?:phone|plan|sim|line|subscription)",
    r"{name}\s+(?:would|will|could|only)\s+(?:cost|charge|be)\s+(?:\w+\s+){0,2}(?:half|less|cheaper|lower|nothing)",
    _PREVIOUS.join([r"\b", r"\s*(?:,|is|was|were|with|at|-)?\s*{name}"]),
    r"{name}\s+(?:is|was|are|were|'s|’s|has|have|had|gives?|gave|offers?|offered|charges?|charged)\s+"
    r"(?:\w+\s+){0,3}" + _BETTER,
    r"{name}\s+(?:offered|offers|is offering|was offering|quoted|will give|would give|gave|matched|"
    r"has a deal|has an offer|has a promo|is advertising|advertises|sent me an offer|called me)",
    r"\b(?:offer|quote|deal|price|promo(?:tion)?|plan|rate)s?\s+(?:at|from|with|by)\s+{name}",
    r"\b(?:cheaper|better|faster|more reliable|less)\s+(?:at|with|from|over at)\s+{name}",
    r"\b(?:than|like)\s+{name}",
    r"\b(?:offered|quoted)\s+by\s+{name}",
    r"\b(?:with|at|from)\s+{name}\s+(?:before|previously|last year|for years|until)",
]

# Sentence-level competitive context: a caller sentence holding one of these cues puts every company
# it names (an organisation entity, an @handle) in a competitive context: the caller
# chooses, leaves, compares, flies or buys elsewhere. Matched case-insensitively on word boundaries.
COMPETITIVE_CUES: list[str] = [
    # switching, leaving, coming back, staying
    r"switch(?:ing|ed|es)?",
    r"mov(?:e|ed|ing) (?:over|back )?to",
    r"port(?:ing|ed)? (?:my |our )?(?:numbers?|lines?) (?:to|in|out)",
    r"port(?:ing|ed)? out",
    r"jump(?:ing|ed)? (?:ship|to)",
    r"mak(?:e|ing) the jump",
    r"leav(?:e|ing) (?:you )?for",
    r"(?:go|going|went|gone) with",
    r"(?:stick|sticking|stuck|stay|staying) (?:with|to) (?!you|u\b|us\b)",
    r"consider(?:ing|ed)?",
    r"(?:back|over) to",
    r"sign(?:ed|ing)? up with",
    r"join(?:ed|ing)?",
    r"(?:taken|took|got|get|getting) (?:a |an |my )?(?:\w+ )?(?:number|connection|sim|plan|contract)",
    r"from now on",
    r"next time",
    r"in (?:the )?future",
    r"never again",
    r"(?:done|finished) with",
    r"goodbye",
    r"(?:getting|get|got|earn(?:ed|s)?|lost|lose) (?:my|our) (?:business|loyalty|money)",
    r"lost a customer",
    r"status match",
    r"gold (?:on|with)",
    r"loyal(?:ty)?",
    r"competitor'?s?",
    r"alternatives?",
    r"instead",
    r"rather",
    # choosing, flying, buying elsewhere
    r"fl(?:y|ying|ew|own)",
    r"book(?:ed|ing)? (?:\w+ ){0,2}(?:with|w/|on|through)",
    r"(?:bought|buy|buying|purchased) (?:a |an )?\w+ (?:flight|ticket|plan|phone)",
    r"paying (?:\w+ )?for",
    r"chose|choose|choosing|picked",
    r"recommend(?:ed)?",
    r"prefer(?:red)?",
    r"why i (?:fly|use|chose|love|went)",
    r"should(?:'ve| have) (?:flown|gone|booked|stayed|used|bought|picked|chosen)",
    r"wish i(?:'d| had)",
    r"thank (?:god|goodness|heavens) for",
    r"thankfully",
    r"took (?:good |great )?care",
    r"your loss",
    # comparing
    r"better|worse|cheaper|pricier|faster|slower|nicer",
    r"(?:more|less) (?:expensive|reliable|helpful)",
    r"than",
    r"compar(?:e|ed|ing|ison)",
    r"unlike",
    r"whereas",
    r"as with",
    r"to shame",
    r"could learn",
    r"(?:match|beat)(?:es|ed|ing)?",
    r"offer(?:s|ed|ing)?|deal|promo(?:tion)?|quot(?:e|ed)",
    r"(?:does|did)n'?t",
    r"(?:does|did) not",
    r"charges",
]
# An @handle after these words is where a shared link came from, not a company the caller names.
NOT_NAMING_PREFIX = re.compile(r"\b(?:via|cc|h/t|rt)[:\s]*$", re.IGNORECASE)
# Words before a person's name ("the agent Mike was better"): that name is no company.
PERSON_BEFORE = re.compile(
    r"\b(?:agent|rep|representative|tech|technician|engineer|manager|supervisor|named|called|"
    r"guy|lady|woman|man|mr|mrs|ms|dr|son|daughter|wife|husband|mother|father|mom|dad|friend|"
    r"brother|sister|neighbou?r)\.?\s+$",
    re.IGNORECASE,
)
# Corporate suffixes: one company whether the caller says "Southwest" or "Southwest Airlines".
COMPANY_SUFFIXES = frozenset(
    {
        "air",
        "airlines",
        "airline",
        "airways",
        "wireless",
        "mobile",
        "telecom",
        "communications",
        "inc",
        "corp",
        "corporation",
        "co",
        "company",
        "ltd",
        "llc",
        "plc",
        "group",
        "bank",
    }
)
# The last word of an @handle that is no company a customer could choose instead of us.
NOT_COMPANY_HANDLE_WORDS = frozenset({"airport", "news", "fund", "foundation", "mayor", "police"})
# Airports tweet as "@Fly" + their code ("@FlyTPA" -> "Fly TPA").
AIRPORT_HANDLE = re.compile(r"^Fly [A-Z]{3}$")
# Flight routes and airport codes ("IAH-DFW") stand where a name could.
CODES = re.compile(r"^[A-Z]{3}(?:[-/][A-Z]{3})+$")
# Organisations a caller names in a competitive sentence that are not competitors: where complaints
# go (lower-case).
NOT_COMPETITOR_ORGS = frozenset(
    {
        "better business bureau",
        "bbb",
        "fcc",
        "ftc",
        "cfpb",
        "consumer financial protection bureau",
        "ofcom",
        "attorney general",
        "public utilities commission",
        "puc",
        "trading standards",
        "ombudsman",
    }
)
# Sentences about handling a trip or a case with a partner, not about choosing it: no competitor is
# taken from them (neither slot patterns nor cues nor @handles).
HANDLING_CUES: list[str] = [
    r"re-?book(?:ed|ing)? (?:me |us |them |her |him )?(?:on|with|onto|through)",
    r"put (?:me|us|them|her|him) on",
    r"operated by",
    r"final carrier",
    r"code-?share",
    r"partner(?:s|ship|ships)?",
    r"interline",
    r"on hold (?:with|to)",
]
# The entity label a company carries in a sentence-level context (the slot patterns accept more;
# PRODUCT names devices there: "Galaxy S4").
CUE_ENTITIES = frozenset({"ORG"})
# How support and airline accounts end ("@DeltaAssist", "@SouthwestAir", "@SpiritAirPR"): dropped
# from an @handle to name the company, in this order.
HANDLE_SUFFIXES: list[str] = [
    "_official",
    "Official",
    "PR",
    "Help",
    "Helps",
    "Support",
    "Cares",
    "Care",
    "Assist",
    "Air",
]
HANDLE_PREFIXES: list[str] = ["Ask_", "Ask"]

# What spaCy's NER must NOT call the slot (a date, an amount is not a company); a place only after
# a place preposition ("moving to Denver"), since NER calls many brands places ("HughesNet").
PLACE_ENTITIES = frozenset({"GPE", "LOC", "FAC"})
PLACE_PREPOSITION = re.compile(r"\b(?:to|in|from|at|near|into|around)\s+$", re.IGNORECASE)
NOT_COMPANY_ENTITIES = frozenset(
    {
        "DATE",
        "TIME",
        "MONEY",
        "PERCENT",
        "QUANTITY",
        "CARDINAL",
        "ORDINAL",
        "EVENT",
        "LANGUAGE",
        "LAW",
    }
)
# What spaCy's NER must call a sentence-initial slot (where every word is capitalised anyway).
COMPANY_ENTITIES = frozenset({"ORG", "PRODUCT", "PERSON", "WORK_OF_ART", "NORP"})
# Capitalised words that stand in a trigger's slot but are not companies (lower-cased).
NOT_A_COMPANY = frozenset(
    [
        "i",
        "i'm",
        "i've",
        "i'll",
        "i'd",
        "you",
        "u",
        "ur",
        "problem",
        "problems",
        "issue",
        "issues",
        "we",
        "they",
        "he",
        "she",
        "it",
        "this",
        "that",
        "these",
        "those",
        "the",
        "a",
        "an",
        "my",
        "our",
        "your",
        "their",
        "his",
        "her",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "today",
        "tomorrow",
        "yesterday",
        "tonight",
        "christmas",
        "thanksgiving",
        "mr",
        "mrs",
        "ms",
        "dr",
        "sir",
        "madam",
        "ok",
        "okay",
        "yes",
        "no",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "dear",
        "internet",
        "tv",
        "cable",
        "wifi",
        "phone",
        "mobile",
        "wireless",
        "fiber",
        "broadband",
        "landline",
        "unlimited",
        "plan",
        "service",
        "customer",
        "support",
        "help",
        "team",
        "agent",
        "manager",
        "supervisor",
        "company",
        "provider",
        "carrier",
        "airline",
        "bank",
        "another",
        "other",
        "someone",
        "somebody",
        "anyone",
        "everyone",
        "nobody",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "first",
        "last",
        "next",
        "us",
        "usa",
        "america",
        "american",
        "europe",
        "canada",
        "uk",
        "england",
        "london",
        "new",
        "york",
        "california",
        "texas",
        "florida",
        "god",
        "lol",
        "omg",
        "wtf",
        "dm",
        "rt",
    ]
)


def compiled_cues(cues: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern of the cues, each on word boundaries."""
    return re.compile(r"\b(?:" + "|".join(f"(?:{cue})" for cue in cues) + r")(?!\w)", re.IGNORECASE)


def compiled_contexts() -> list[re.Pattern[str]]:
    """The patterns with the name slot filled; the trigger words match any case, the name is cased."""
    compiled = []
    for pattern in CONTEXT_PATTERNS:
        # (?i:…) around the trigger parts; the name slot stays case-sensitive (a brand is capitalised).
        parts = pattern.split("{name}")
        compiled.append(re.compile(NAME.join(f"(?i:{p})" if p else "" for p in parts)))
    return compiled
