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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callpipe.errors import InvalidInputError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "AnalysisConfig",
    "Brand",
    "ChurnCues",
    "Competitor",
    "CustomQuestion",
    "IntentSpec",
    "QuestionKind",
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
        return AnalysisConfig.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise InvalidInputError(f"analysis configuration {source}: {exc}") from exc
