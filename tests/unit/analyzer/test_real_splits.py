"""The real-data evals' splits are fixed, disjoint and balanced (on small files written here)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from callpipe_bench import analyzer_real
from callpipe_bench.analyzer_real import airline_split, banking77_split


def _tweets(root: Path, per_label: int) -> None:
    (root / "airline_tweets").mkdir(parents=True)
    with (root / "airline_tweets" / "Tweets.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["airline_sentiment", "text"])
        writer.writeheader()
        for label in ("negative", "neutral", "positive"):
            for i in range(per_label):
                writer.writerow({"airline_sentiment": label, "text": f"@united {label} tweet {i}"})


def test_airline_split_is_balanced_disjoint_and_reproducible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analyzer_real, "DEV_PER_CLASS", 3)
    monkeypatch.setattr(analyzer_real, "HELDOUT_PER_CLASS", 5)
    _tweets(tmp_path, 10)
    dev, heldout = airline_split(tmp_path, "dev"), airline_split(tmp_path, "heldout")
    assert [label for _, label in dev].count("negative") == 3
    assert [label for _, label in heldout].count("positive") == 5
    assert not {t for t, _ in dev} & {t for t, _ in heldout}
    assert dev == airline_split(tmp_path, "dev")
    assert all(not t.startswith("@") for t, _ in dev)  # the airline's handle is removed


def test_bank_map_covers_each_banking77_intent_once() -> None:
    mapping = yaml.safe_load((analyzer_real.BANK_DIR / "banking77_map.yaml").read_text())
    fine = [name for names in mapping.values() for name in names]
    assert len(fine) == len(set(fine)) == 77
    from callpipe_analyzer.config import load_config

    config = load_config(analyzer_real.BANK_DIR / "analysis.yaml")
    assert set(mapping) == set(config.intents)


def test_banking77_dev_and_heldout_partition_the_test_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analyzer_real, "BANK_DEV", 4)
    (tmp_path / "banking77").mkdir()
    with (tmp_path / "banking77" / "test.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category"])
        for i in range(10):
            writer.writerow([f"where is my card {i}", "card_arrival"])
    dev, heldout = banking77_split(tmp_path, "dev"), banking77_split(tmp_path, "heldout")
    assert len(dev) == 4 and len(heldout) == 6
    assert {t for t, _ in dev} | {t for t, _ in heldout} == {f"where is my card {i}" for i in range(10)}
    assert {label for _, label in dev} == {"card_delivery"}
