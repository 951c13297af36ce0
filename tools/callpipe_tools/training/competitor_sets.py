"""Draw airline-tweet rows for a new competitor set (held-out or training), disjoint from every set.

    python -m callpipe_tools.training.competitor_sets --seed 7373 --other-carrier 90 --choice 30 --other 30

Prints ``row<TAB>airline<TAB>group<TAB>sha256 prefix<TAB>text`` for the team to read and label;
the text itself (``../shared/realdata/text/airline_tweets/Tweets.csv``, CC BY-NC-SA 4.0) is never
written into the repository, only the row, the SHA-256 prefix and the labels. Groups, drawn in this
order from the rows of no existing set: tweets naming another carrier than the one addressed
(``other_carrier``), tweets with a choice/comparison word and no other carrier (``choice_word``), the
rest (``other``). A row whose text repeats one of a set (retweets) is not drawn.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = [
    "CARRIERS",
    "CHOICE_WORDS",
    "OWN_BRANDS",
    "LabelledTweet",
    "group_of",
    "labelled_tweets",
    "main",
    "name_key",
    "used_rows",
]

_ROOT = Path(__file__).resolve().parents[3]
SETS = _ROOT / "datasets" / "competitors"
TWEETS = _ROOT.parent / "shared" / "realdata" / "text" / "airline_tweets" / "Tweets.csv"
# Carriers a US customer names (name or handle stem); the own brand is removed per tweet.
CARRIERS = {
    "Virgin America": r"virgin ?america",
    "United": r"united",
    "Southwest": r"southwest",
    "Delta": r"delta",
    "US Airways": r"us ?airways",
    "American": r"american ?air|\bamerican\b|\baa\b",
    "JetBlue": r"jet ?blue",
    "Alaska": r"alaska ?air",
    "Spirit": r"spirit ?air|@spirit|\bspirit airlines",
    "Frontier": r"frontier",
    "Virgin Atlantic": r"virgin ?atlantic",
    "Air Canada": r"air ?canada",
    "Hawaiian": r"hawaiian ?air",
    "Allegiant": r"allegiant",
    "Emirates": r"emirates",
    "Lufthansa": r"lufthansa",
    "British Airways": r"british ?airways|@british_airways",
    "WestJet": r"westjet",
    "Sun Country": r"sun ?country",
}
# The source labels tweets to @JetBlue "Delta"; US Airways and American had merged.
_OWN = {
    "Delta": {"JetBlue"},
    "US Airways": {"US Airways", "American"},
    "American": {"US Airways", "American"},
}
# The own brand per airline of the source (US Airways and American had merged; the rows labelled
# "Delta" are tweets to @JetBlue).
_AMERICAN = (
    "American Airlines",
    ["American", "AmericanAir", "AA", "US Airways", "USAirways", "US Air", "USAir"],
)
OWN_BRANDS: dict[str, tuple[str, list[str]]] = {
    "Virgin America": ("Virgin America", ["VirginAmerica", "Virgin"]),
    "United": ("United", ["United Airlines", "UnitedAirlines"]),
    "Southwest": ("Southwest", ["SouthwestAir", "Southwest Airlines", "SWA"]),
    "Delta": ("JetBlue", ["Jet Blue", "JB", "JetBlue Airways"]),
    "US Airways": _AMERICAN,
    "American": _AMERICAN,
}
_SUFFIX = re.compile(r"(?<=...)(?:airlines|airways|air|travel)$")
CHOICE_WORDS = re.compile(
    r"\b(?:switch\w*|instead|better|cheaper|competitor\w*|other airlines?|another airline|never again"
    r"|never fly|fly with|next time|loyal\w*|alternative|compared?|than)\b",
    re.IGNORECASE,
)


def name_key(name: str) -> str:
    """The key competitor names are compared on: lower-case letters and digits, a trailing "air",
    "airlines", "airways" or "travel" dropped ("@SouthwestAir" = "Southwest")."""
    return _SUFFIX.sub("", re.sub(r"[^a-z0-9&]+", "", name.lower()))


@dataclass(frozen=True)
class LabelledTweet:
    row: int
    airline: str  # as the source labels it (own brand: OWN_BRANDS[airline])
    text: str  # HTML entities decoded
    competitors: tuple[str, ...]


def labelled_tweets(path: Path, tweets: Path = TWEETS) -> list[LabelledTweet]:
    """The tweets of a set file, each checked against its stored SHA-256 prefix."""
    rows = list(csv.DictReader(tweets.open(encoding="utf-8")))
    result = []
    for tweet in yaml.safe_load(path.read_text(encoding="utf-8"))["tweets"]:
        text = rows[tweet["row"]]["text"]
        if hashlib.sha256(text.encode()).hexdigest()[:12] != tweet["sha256"]:
            raise SystemExit(f"{tweets}: row {tweet['row']} is not the labelled tweet (another version?)")
        result.append(
            LabelledTweet(tweet["row"], tweet["airline"], html.unescape(text), tuple(tweet["competitors"]))
        )
    return result


def group_of(airline: str, text: str) -> str:
    own = _OWN.get(airline, {airline})
    lowered = text.lower()
    for carrier, pattern in CARRIERS.items():
        if carrier not in own and re.search(pattern, lowered):
            return "other_carrier"
    return "choice_word" if CHOICE_WORDS.search(text) else "other"


def used_rows() -> set[int]:
    rows: set[int] = set()
    for path in SETS.glob("airline_*.yaml"):
        rows.update(t["row"] for t in yaml.safe_load(path.read_text(encoding="utf-8"))["tweets"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--other-carrier", type=int, default=90)
    parser.add_argument("--choice", type=int, default=30)
    parser.add_argument("--other", type=int, default=30)
    args = parser.parse_args(argv)
    rows = list(csv.DictReader(TWEETS.open(encoding="utf-8")))
    used = used_rows()
    # Retweets repeat a text under another row: a text already in a set is not drawn again.
    used_texts = {rows[index]["text"] for index in used}
    groups: dict[str, list[int]] = {"other_carrier": [], "choice_word": [], "other": []}
    for index, row in enumerate(rows):
        if index not in used and row["text"] not in used_texts:
            groups[group_of(row["airline"], row["text"])].append(index)
    rng = random.Random(args.seed)
    wanted = {"other_carrier": args.other_carrier, "choice_word": args.choice, "other": args.other}
    for group, count in wanted.items():
        for index in rng.sample(groups[group], count):
            text = rows[index]["text"]
            sha = hashlib.sha256(text.encode()).hexdigest()[:12]
            shown = html.unescape(text).replace("\n", " ")
            print(f"{index}\t{rows[index]['airline']}\t{group}\t{sha}\t{shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
