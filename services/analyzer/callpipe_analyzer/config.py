"""The analysis configuration (``analysis.yaml``): intent taxonomy, topics, brand, competitors,
custom questions, and which labels of the taxonomy the rules act on (``churn.intents``,
``inquiry_intent``). One file drives both analyzers, so switching engines never changes the labels.
"""

from __future__ import annotations

import hashlib
import logging
import re
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callpipe.errors import InvalidInputError
from callpipe_analyzer.intent_examples import merge_intent_examples

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "AnalysisConfig",
    "Brand",
    "CategorySpec",
    "ChurnCues",
    "Competitor",
    "CustomQuestion",
    "IntentSpec",
    "Party",
    "PhraseMatch",
    "QuestionKind",
    "Rule",
    "ScorecardForm",
    "ScorecardQuestion",
    "SentimentAt",
    "TimeWindow",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("analysis.yaml")
_log = logging.getLogger("callpipe.analyzer.config")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntentSpec(_Frozen):
    description: str
    examples: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)


class Brand(_Frozen):
    name: str
    aliases: list[str] = Field(default_factory=list)


class Competitor(_Frozen):
    name: str
    aliases: list[str] = Field(default_factory=list)
    # For names that are also ordinary words ("Spectrum", "Mint") only the capitalised form counts.
    case_sensitive: bool = False

    @property
    def surface_forms(self) -> list[str]:
        return [self.name, *self.aliases]


class QuestionKind(StrEnum):
    YES_NO = "yes_no"
    EXTRACT = "extract"


class CustomQuestion(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    question: str
    kind: QuestionKind = QuestionKind.YES_NO
    speaker: str | None = Field(default=None, description="'caller' or 'agent': whose turns to search.")
    examples: list[str] = Field(default_factory=list, description="Sentences that mean 'yes' (offline).")
    pattern: str | None = Field(default=None, description="Regex whose first match is the extraction.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @model_validator(mode="after")
    def _usable_offline(self) -> CustomQuestion:
        if self.kind is QuestionKind.YES_NO and not self.examples:
            raise ValueError(f"yes/no question {self.id!r} needs example sentences")
        return self


class ChurnCues(_Frozen):
    """What says the caller may leave (offline analyzer; the LLM reads the definition in its prompt).

    Phrases are matched case-insensitively on word boundaries in the caller's turns. ``intents``
    names the taxonomy labels that are themselves a departure (a call to cancel is churn, calm or
    not); a user's own taxonomy names its own, or none.
    """

    intents: list[str] = Field(default_factory=list)
    high: list[str] = Field(default_factory=list, description="The caller announces leaving.")
    medium: list[str] = Field(default_factory=list, description="The caller weighs leaving.")


# --- categories: rules over the transcript, metrics and analysis (evaluated in categories.py) ---


class Party(StrEnum):
    AGENT = "agent"
    CALLER = "caller"
    ANY = "any"


class PhraseMatch(StrEnum):
    EXACT = "exact"  # the words in order, case-insensitive, on word boundaries
    FUZZY = "fuzzy"  # stemmed words, near-spellings, up to ``slop`` extra words between them


class TimeWindow(_Frozen):
    """Part of the call a rule looks at; absolute (seconds) or relative (share of the call)."""

    first_s: float | None = Field(default=None, gt=0)
    last_s: float | None = Field(default=None, gt=0)
    first_pct: float | None = Field(default=None, gt=0, le=100)
    last_pct: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _one_bound(self) -> TimeWindow:
        if sum(v is not None for v in (self.first_s, self.last_s, self.first_pct, self.last_pct)) != 1:
            raise ValueError("a window has exactly one of first_s, last_s, first_pct, last_pct")
        return self


class PhraseRule(_Frozen):
    phrases: list[str] = Field(min_length=1)
    speaker: Party = Party.ANY
    match: PhraseMatch = PhraseMatch.FUZZY
    slop: int = Field(default=1, ge=0, description="Extra words allowed between a phrase's words (fuzzy).")
    window: TimeWindow | None = None


class SilenceRule(_Frozen):
    min_s: float = Field(gt=0, description="A gap with nobody speaking at least this long.")
    window: TimeWindow | None = None


class InterruptionRule(_Frozen):
    by: Party = Party.AGENT
    min: int = Field(default=1, ge=1)
    window: TimeWindow | None = None


class SentimentAt(StrEnum):
    OVERALL = "overall"
    END = "end"  # the party's last third of turns


class SentimentRule(_Frozen):
    speaker: Party = Party.CALLER
    at: SentimentAt = SentimentAt.OVERALL
    below: float | None = Field(default=None, ge=-1, le=1)
    above: float | None = Field(default=None, ge=-1, le=1)


class TalkShareRule(_Frozen):
    speaker: Party = Party.AGENT
    below: float | None = Field(default=None, ge=0, le=1)
    above: float | None = Field(default=None, ge=0, le=1)


class FieldRule(_Frozen):
    """A field of the analysis: ``intent``, ``sentiment``, ``escalation_risk``, ``churn_risk``,
    ``satisfaction_score``; ``in`` for labels, ``below``/``above`` for numbers."""

    name: str = Field(pattern=r"^(intent|sentiment|escalation_risk|churn_risk|satisfaction_score)$")
    in_: list[str] | None = Field(default=None, alias="in")
    below: float | None = None
    above: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Frozen):
    """One node of a category's rule tree: exactly one key set."""

    all: list[Rule] | None = None
    any: list[Rule] | None = None
    not_: Rule | None = Field(default=None, alias="not")
    phrase: PhraseRule | None = None
    silence: SilenceRule | None = None
    interruptions: InterruptionRule | None = None
    sentiment: SentimentRule | None = None
    talk_share: TalkShareRule | None = None
    field: FieldRule | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _exactly_one(self) -> Rule:
        set_keys = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(set_keys) != 1:
            raise ValueError(f"a rule has exactly one of all/any/not/phrase/silence/…; got {set_keys}")
        if (self.all is not None and not self.all) or (self.any is not None and not self.any):
            raise ValueError("all/any need at least one rule")
        return self


class CategorySpec(_Frozen):
    description: str
    rule: Rule


# --- QA scorecards: weighted questions, each answered by one source (scorecards.py) ---


class CategoryAnswer(_Frozen):
    category: str
    expect: str = Field(default="absent", pattern=r"^(absent|present)$")


class MetricAnswer(_Frozen):
    """A metric of the call against a threshold: ``min`` and/or ``max`` (inclusive) to pass."""

    metric: str
    min: float | None = None
    max: float | None = None


class QuestionAnswer(_Frozen):
    """A configured custom question; ``llm: true`` counts it only when the LLM engine answered."""

    custom_question: str
    expect: str = "yes"
    llm: bool = False


class ScorecardQuestion(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: str
    weight: float = Field(default=1.0, gt=0)
    critical: bool = Field(default=False, description="Failing it scores the whole form 0.")
    category: CategoryAnswer | None = None
    metric: MetricAnswer | None = None
    question: QuestionAnswer | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ScorecardQuestion:
        if sum(x is not None for x in (self.category, self.metric, self.question)) != 1:
            raise ValueError(f"scorecard question {self.id!r} needs exactly one of category/metric/question")
        return self


class ScorecardForm(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    questions: list[ScorecardQuestion] = Field(min_length=1)


class AnalysisConfig(_Frozen):
    version: str
    own_brand: Brand
    intents: dict[str, IntentSpec] = Field(min_length=1)
    topics: dict[str, list[str]] = Field(default_factory=dict)
    competitors: list[Competitor] = Field(default_factory=list)
    custom_questions: list[CustomQuestion] = Field(default_factory=list)
    # Caller sentences that typify each sentiment in a support call (the offline analyzer embeds
    # them as a second signal beside VADER; sarcasm and polite anger are what VADER misreads).
    sentiment_examples: dict[str, list[str]] = Field(default_factory=dict)
    churn: ChurnCues = Field(default_factory=ChurnCues)
    # The taxonomy's information-request label (offline analyzer: a caller whose first sentences
    # are questions that ask for nothing is evidence for it). None: the taxonomy has no such label.
    inquiry_intent: str | None = None
    categories: dict[str, CategorySpec] = Field(default_factory=dict)
    scorecards: list[ScorecardForm] = Field(default_factory=list)
    # CSV files (text,intent) of the call center's own labelled sentences, added to the intents'
    # examples by load_config (intent_examples.py); paths relative to this file.
    intent_examples_files: list[str] = Field(default_factory=list)

    @field_validator("sentiment_examples")
    @classmethod
    def _sentiment_labels(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if value and set(value) != {"negative", "neutral", "positive"}:
            raise ValueError("sentiment_examples needs exactly: negative, neutral, positive")
        return value

    @model_validator(mode="after")
    def _unique_questions(self) -> AnalysisConfig:
        ids = [q.id for q in self.custom_questions]
        if len(ids) != len(set(ids)):
            raise ValueError("custom question ids must be unique")
        self._check_scorecards(set(ids))
        unknown = sorted(set(self.churn.intents) - set(self.intents))
        if unknown:
            # A taxonomy written from the bundled template keeps its churn section: say so loudly
            # (the departure-intent rule then does nothing) instead of refusing the whole file.
            _log.warning(
                "churn.intents names intents the taxonomy lacks; they are ignored",
                extra={"unknown": unknown},
            )
            kept = ChurnCues(
                intents=[i for i in self.churn.intents if i in self.intents],
                high=self.churn.high,
                medium=self.churn.medium,
            )
            object.__setattr__(self, "churn", kept)
        return self

    @model_validator(mode="after")
    def _known_inquiry_intent(self) -> AnalysisConfig:
        if self.inquiry_intent is not None and self.inquiry_intent not in self.intents:
            # As with churn.intents: the rule is off, loudly, and the rest of the file applies.
            _log.warning(
                "inquiry_intent names an intent the taxonomy lacks; the inquiry rule is off",
                extra={"unknown": self.inquiry_intent},
            )
            object.__setattr__(self, "inquiry_intent", None)
        return self

    def _check_scorecards(self, question_ids: set[str]) -> None:
        from callpipe_analyzer.scorecards import METRICS  # the metric names live beside their reader

        for form in self.scorecards:
            for q in form.questions:
                if q.category is not None and q.category.category not in self.categories:
                    raise ValueError(f"scorecard {form.id}.{q.id}: unknown category {q.category.category!r}")
                if q.metric is not None and q.metric.metric not in METRICS:
                    known = ", ".join(sorted(METRICS))
                    raise ValueError(
                        f"scorecard {form.id}.{q.id}: unknown metric {q.metric.metric!r}; one of {known}"
                    )
                if q.question is not None and q.question.custom_question not in question_ids:
                    raise ValueError(
                        f"scorecard {form.id}.{q.id}: unknown custom question {q.question.custom_question!r}"
                    )

    @property
    def fingerprint(self) -> str:
        """Short hash of the configuration: part of the prompt / rule-set version."""
        dumped = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(dumped.encode()).hexdigest()[:8]


def load_config(path: Path | None = None) -> AnalysisConfig:
    """Read and validate ``analysis.yaml``; a broken file is a clear error naming the file."""
    source = path or DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        if isinstance(raw, dict):
            raw = merge_intent_examples(raw, source.parent)
        return AnalysisConfig.model_validate(raw)
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValidationError is a ValueError
        raise InvalidInputError(f"analysis configuration {source}: {exc}") from exc
