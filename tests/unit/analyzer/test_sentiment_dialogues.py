"""The real-dialogue caller-sentiment set: its labels load as the bench scores them."""

from __future__ import annotations

from pathlib import Path

import yaml

from callpipe_bench.sentiment_dialogues import LABEL_FILES, SCORED, load_labels


def test_mixed_and_unclear_rows_are_listed_but_not_scored(tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    rows = [
        {"id": "a", "caller_sentiment": "negative"},
        {"id": "b", "caller_sentiment": "mixed"},
        {"id": "c", "caller_sentiment": "positive"},
        {"id": "d", "caller_sentiment": "unclear"},
    ]
    path.write_text(yaml.safe_dump({"dialogues": rows}))
    assert load_labels(path) == {"a": "negative", "c": "positive"}


def _rows(split: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = yaml.safe_load(LABEL_FILES[split].read_text(encoding="utf-8"))["dialogues"]
    return rows


def test_each_shipped_set_has_one_label_per_dialogue_from_the_rule() -> None:
    for split, scored in (("heldout", 89), ("dev", 93)):
        rows = _rows(split)
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)) == 100
        assert {row["caller_sentiment"] for row in rows} <= {*SCORED, "mixed", "unclear"}
        assert len(load_labels(LABEL_FILES[split])) == scored


def test_dev_and_heldout_never_share_a_dialogue() -> None:
    dev = {row["id"] for row in _rows("dev")}
    heldout = {row["id"] for row in _rows("heldout")}
    assert not dev & heldout
