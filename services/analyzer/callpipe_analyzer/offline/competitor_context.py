"""The competitive-context decision of the open-set competitor detector, as a trained classifier.

The detector (:mod:`callpipe_analyzer.offline.competitors`) finds candidate companies in the
caller's sentences (an @handle in a message, a name in a context pattern's slot, a spaCy ORG entity)
and this model decides, per candidate, whether the caller names it as a competitor (an alternative,
a comparison, a past or future choice) or not (copied in, a partner handling the booking, a card,
a device, news). Rules about *which words* cue competition fit the sentences they were written on;
the classifier reads the whole sentence instead:

- candidates: the detector's (an @handle, a context pattern's slot filler, an ORG entity of any
  caller sentence);
- features: the MiniLM embedding (:mod:`callpipe_analyzer.offline.encoder`) of the sentence with
  the candidate's name replaced by a placeholder (the model learns the context, not the brand, so
  it holds for brands it never saw), and a few flags: where the candidate came from, whether a
  lexicon cue is in the sentence, how many other candidates share the sentence, where it stands,
  what spaCy's NER calls it (organisation, person, place, product);
- a binary logistic regression (:class:`callpipe_analyzer.offline.supervised.LinearModel`),
  fitted by ``python -m callpipe_tools.training.competitor_context`` and shipped as
  ``competitor_context.json`` beside this module; its SHA-256 is pinned here and checked on load,
  so a changed or truncated file fails at start, not silently at analysis time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from callpipe.errors import PermanentError
from callpipe_analyzer.offline.supervised import LinearModel

__all__ = [
    "CONTEXT_MODEL_SHA256",
    "DEFAULT_CONTEXT_MODEL_PATH",
    "ENTITY_GROUPS",
    "FLAG_FEATURES",
    "MASK",
    "SOURCES",
    "Candidate",
    "ContextModel",
    "context_features",
    "flag_features",
    "masked_sentence",
    "rule_decision",
]

Array = npt.NDArray[np.float32]
DEFAULT_CONTEXT_MODEL_PATH = Path(__file__).with_name("competitor_context.json")
# SHA-256 of the shipped competitor_context.json (printed by the training script when it writes it).
CONTEXT_MODEL_SHA256 = "8e13cfed29de5240c581881d05ba1af9c8797743f7050fc8f0e28831e31a01e5"
# What stands in the sentence for the candidate (and for any other candidate beside it): a word
# the encoder reads as "some company", so no brand's own associations enter the decision.
MASK = "Brand"
OTHER_MASK = "Company"
SOURCES = ("handle", "slot", "entity")
# spaCy's entity label at the name, in groups (a name without an entity sets none of them).
ENTITY_GROUPS: dict[str, frozenset[str]] = {
    "org": frozenset({"ORG"}),
    "person": frozenset({"PERSON"}),
    "place": frozenset({"GPE", "LOC", "FAC"}),
    "product": frozenset({"PRODUCT", "WORK_OF_ART", "NORP", "EVENT"}),
}
_CROWD = 3  # "@A @B @C @D": beyond a few tags in one sentence, one more says nothing new
FLAG_FEATURES = [
    *(f"source_{s}" for s in SOURCES),
    "cued",  # a lexicon cue (switch, cheaper, than, fly ...) in the sentence's own words
    "others",  # other candidates in the sentence, capped at _CROWD, scaled to 0..1
    "position",  # where the name starts, 0 (sentence start) .. 1 (end)
    "ends_sentence",  # nothing but punctuation after the name ("Hello Brand !", "... on Brand")
    "starts_sentence",  # the first word: capitalised whatever it is
    *(f"entity_{g}" for g in ENTITY_GROUPS),
]


@dataclass(frozen=True)
class Candidate:
    """A company named in one caller sentence, before the decision."""

    name: str
    sentence: str  # as the detector reads it: @handles replaced by the names they stand for
    start: int  # the name's span in ``sentence``
    end: int
    source: str  # one of SOURCES
    cued: bool
    others: tuple[tuple[int, int], ...] = ()  # spans of the sentence's other candidates
    turn: str = ""  # the caller's turn the sentence is from (the mention's context)
    entity: str = ""  # spaCy's entity label at the name ("" when none or not recognized)


class SentenceEncoder(Protocol):
    def encode(self, sentences: list[str], *, batch_size: int = 64) -> Array: ...


def masked_sentence(candidate: Candidate) -> str:
    """The sentence with the candidate's name as ``MASK`` and the other candidates as ``OTHER_MASK``."""
    spans = sorted(
        [(candidate.start, candidate.end, MASK)] + [(s, e, OTHER_MASK) for s, e in candidate.others],
        reverse=True,
    )
    text = candidate.sentence
    taken: list[tuple[int, int]] = []
    for start, end, word in spans:
        if any(s < end and start < e for s, e in taken):
            continue  # overlapping spans ("Virgin" inside "Virgin America"): the first one wins
        text = text[:start] + word + text[end:]
        taken.append((start, end))
    return text


def flag_features(candidate: Candidate) -> list[float]:
    length = max(len(candidate.sentence), 1)
    rest = candidate.sentence[candidate.end :].strip(" \t.,;:!?)\"'")
    return [
        *(float(candidate.source == s) for s in SOURCES),
        float(candidate.cued),
        min(len(candidate.others), _CROWD) / _CROWD,
        candidate.start / length,
        float(not rest),
        float(not candidate.sentence[: candidate.start].strip(" \t\"'“‘(")),
        *(float(candidate.entity in labels) for labels in ENTITY_GROUPS.values()),
    ]


def context_features(candidates: list[Candidate], encoder: SentenceEncoder) -> Array:
    """One row per candidate: the masked sentence's embedding, then ``FLAG_FEATURES``."""
    if not candidates:
        return np.zeros((0, 0), dtype=np.float32)
    embeddings = encoder.encode([masked_sentence(c) for c in candidates])
    flags = np.asarray([flag_features(c) for c in candidates], dtype=np.float32)
    return np.hstack([embeddings, flags]).astype(np.float32)


def rule_decision(candidate: Candidate) -> bool:
    """The lexicon's decision: a slot filler or a tagged @handle counts, an entity needs a cue."""
    return candidate.source != "entity" or candidate.cued


@dataclass
class ContextModel:
    """The fitted decision: a logistic regression over [embedding, flags], and its threshold."""

    linear: LinearModel
    threshold: float
    trained_on: str = ""
    # The candidates it was fitted on, and so decides: with the ORG entities of sentences without
    # a lexicon cue (True), or the rules' candidates only (handles, slot fillers, cued entities).
    uncued_entities: bool = False

    def probabilities(self, features: Array) -> Array:
        """P(competitor) per row of ``features``."""
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        column = self.linear.labels.index("competitor")
        result: Array = self.linear.proba(features)[:, column]
        return result

    def decide(self, candidates: list[Candidate], encoder: SentenceEncoder) -> list[bool]:
        probabilities = self.probabilities(context_features(candidates, encoder))
        return [bool(p >= self.threshold) for p in probabilities]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "competitor_context",
            "mask": MASK,
            "other_mask": OTHER_MASK,
            "flags": FLAG_FEATURES,
            "threshold": round(self.threshold, 4),
            "trained_on": self.trained_on,
            "uncued_entities": self.uncued_entities,
            "linear": self.linear.to_json(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ContextModel:
        if raw.get("kind") != "competitor_context" or raw.get("flags") != FLAG_FEATURES:
            raise PermanentError(
                "competitor context model: not a model of this version (kind or flag features differ); "
                "fit it again with python -m callpipe_tools.training.competitor_context"
            )
        if raw.get("mask") != MASK or raw.get("other_mask") != OTHER_MASK:
            raise PermanentError("competitor context model: fitted with another placeholder word")
        return cls(
            linear=LinearModel.from_json(raw["linear"]),
            threshold=float(raw["threshold"]),
            trained_on=str(raw.get("trained_on", "")),
            uncued_entities=bool(raw["uncued_entities"]),
        )

    @classmethod
    def load(cls, path: Path | None = None, *, sha256: str | None = None) -> ContextModel:
        """The shipped model (its SHA-256 checked against ``CONTEXT_MODEL_SHA256``), or the model
        at ``path`` (checked against ``sha256`` when given: a model fitted elsewhere)."""
        if path is None:
            path, sha256 = DEFAULT_CONTEXT_MODEL_PATH, CONTEXT_MODEL_SHA256
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentError(f"competitor context model {path} cannot be read: {exc}") from exc
        digest = hashlib.sha256(data).hexdigest()
        if sha256 is not None and digest != sha256:
            raise PermanentError(
                f"competitor context model {path}: SHA-256 {digest} is not the pinned {sha256} "
                "(changed or truncated file)"
            )
        return cls.from_json(json.loads(data))
