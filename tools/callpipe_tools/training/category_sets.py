"""Draw airline-tweet rows for the cancellation-threat category sets, disjoint from every competitor set.

    python -m callpipe_tools.training.category_sets --seed 5151 --churn 160 --other 80
    python -m callpipe_tools.training.category_sets --seed 5151 --churn 160 --other 80 --split

Prints ``row<TAB>airline<TAB>group<TAB>sha256 prefix<TAB>text`` for the team to read and label; the
text itself (``../shared/realdata/text/airline_tweets/Tweets.csv``, CC BY-NC-SA 4.0) is never
written into the repository, only the row (0-based data row of ``csv.DictReader``), the SHA-256
prefix (first 12 hex digits of the UTF-8 text as read) and the labels, as in
``datasets/competitors/airline_*.yaml``. Groups, drawn in this order with ``random.Random(seed)``
from the rows of no competitor set: tweets matching ``CHURN_WORDS`` (words suggesting someone may
leave: ``churn_word``), then tweets not matching it (``other``). A row whose text repeats the text
of a competitor-set row or of another candidate (retweets) is not drawn; of candidates sharing one
text only the first row is kept.

``--split`` prints ``row<TAB>airline<TAB>group<TAB>sha256 prefix<TAB>part`` instead (no text):
each group's drawn rows shuffled with ``random.Random(seed + 1)``, the first half ``dev``
(``datasets/categories/airline_cancel_dev.yaml``), the second ``heldout``
(``datasets/categories/airline_cancel_heldout.yaml``).

``--output-part NAME`` draws a later part: rows of every other ``datasets/categories/airline_cancel_*.yaml``
set are excluded as well (and, as for the competitor sets, their texts), so it is disjoint from the
category sets already labelled; it prints ``row<TAB>airline<TAB>group<TAB>sha256 prefix<TAB>NAME`` (no text):
all drawn rows form one part, written in draw order, without the dev/heldout split, e.g.
``--seed 6262 --churn 200 --other 40 --output-part heldout2`` for
``datasets/categories/airline_cancel_heldout2.yaml``; add ``--text`` to print the text instead of NAME
(for labelling). The part's own file ``airline_cancel_NAME.yaml`` is not excluded, so the draw
reproduces after that file is written; a draw without ``--output-part`` (the first one, seed 5151)
excludes no category set and so reproduces the dev and held-out files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import random
import re
from pathlib import Path

import yaml

from callpipe_tools.training.competitor_sets import TWEETS, used_rows

__all__ = ["CATEGORY_SETS", "CHURN_WORDS", "category_rows", "draw", "main", "split"]

CATEGORY_SETS = Path(__file__).resolve().parents[3] / "datasets" / "categories"

CHURN_WORDS = re.compile(
    r"never|again|switch|cancel|done with|last time|loyal|won't be|will not be|goodbye"
    r"|lost (a|my|your) (customer|business)|other airline|elsewhere|close my|credit card|membership"
    r"|no longer",
    re.IGNORECASE,
)


def category_rows(part: str | None = None) -> set[int]:
    """Rows of every ``datasets/categories/airline_cancel_*.yaml`` set but ``airline_cancel_<part>.yaml``."""
    found: set[int] = set()
    for path in sorted(CATEGORY_SETS.glob("airline_cancel_*.yaml")):
        if part is not None and path.name == f"airline_cancel_{part}.yaml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.update(int(entry["row"]) for entry in data["tweets"])
    return found


def draw(
    rows: list[dict[str, str]], seed: int, churn: int, other: int, part: str | None = None
) -> list[tuple[int, str]]:
    """``(row, group)`` pairs: ``churn`` rows matching CHURN_WORDS, then ``other`` rows not matching,
    both from the rows of no competitor set (and, for a later ``part``, no other ``airline_cancel_*``
    set), one row per text."""
    # Only a later part avoids the category sets: the first draw (dev + held-out) predates them.
    used = set(used_rows()) | (category_rows(part) if part is not None else set())
    # Retweets repeat a text under another row: a text already in a set is not drawn again.
    seen = {rows[index]["text"] for index in used}
    groups: dict[str, list[int]] = {"churn_word": [], "other": []}
    for index, row in enumerate(rows):
        if index in used or row["text"] in seen:
            continue
        seen.add(row["text"])
        groups["churn_word" if CHURN_WORDS.search(row["text"]) else "other"].append(index)
    rng = random.Random(seed)
    drawn: list[tuple[int, str]] = []
    for group, count in (("churn_word", churn), ("other", other)):
        drawn.extend((index, group) for index in rng.sample(groups[group], count))
    return drawn


def split(drawn: list[tuple[int, str]], seed: int) -> dict[int, str]:
    """Row -> ``dev`` or ``heldout``: each group shuffled with ``random.Random(seed + 1)``, first half dev."""
    rng = random.Random(seed + 1)
    parts: dict[int, str] = {}
    for group in ("churn_word", "other"):
        members = [index for index, member_group in drawn if member_group == group]
        rng.shuffle(members)
        half = len(members) // 2
        for position, index in enumerate(members):
            parts[index] = "dev" if position < half else "heldout"
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--churn", type=int, default=160)
    parser.add_argument("--other", type=int, default=80)
    parser.add_argument("--split", action="store_true", help="print the dev/heldout part instead of the text")
    parser.add_argument(
        "--output-part",
        metavar="NAME",
        help="print NAME as the part of every drawn row (one part, no dev/heldout split) instead of the text",
    )
    parser.add_argument("--text", action="store_true", help="with --output-part: print the text, not NAME")
    args = parser.parse_args(argv)
    rows = list(csv.DictReader(TWEETS.open(encoding="utf-8")))
    drawn = draw(rows, args.seed, args.churn, args.other, args.output_part)
    parts = split(drawn, args.seed)
    for index, group in drawn:
        text = rows[index]["text"]
        sha = hashlib.sha256(text.encode()).hexdigest()[:12]
        if args.output_part and not args.text:
            last = args.output_part
        elif args.split:
            last = parts[index]
        else:
            last = html.unescape(text).replace("\n", " ")
        print(f"{index}\t{rows[index]['airline']}\t{group}\t{sha}\t{last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
