"""Labelled sentences from CSV files named in analysis.yaml join the intents' examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from callpipe.errors import InvalidInputError
from callpipe_analyzer.config import DEFAULT_CONFIG_PATH, load_config


def _config_with(tmp_path: Path, csv_text: str, files: list[str] | None = None) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["intent_examples_files"] = files or ["labelled.csv"]
    (tmp_path / "labelled.csv").write_text(csv_text, encoding="utf-8")
    path = tmp_path / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_rows_are_added_to_their_intents_and_change_the_fingerprint(tmp_path: Path) -> None:
    base = load_config()
    path = _config_with(
        tmp_path,
        "text,intent\n"
        "My modem blinks red all night,technical_support\n"
        '"Hi, I want out of my contract",cancellation\n',
    )
    config = load_config(path)
    assert config.intents["technical_support"].examples[-1] == "My modem blinks red all night"
    assert config.intents["cancellation"].examples[-1] == "Hi, I want out of my contract"
    assert len(config.intents["billing_dispute"].examples) == len(base.intents["billing_dispute"].examples)
    assert config.fingerprint != base.fingerprint


def test_an_unknown_intent_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = _config_with(tmp_path, "text,intent\nfine,technical_support\nmy card was eaten,atm_problem\n")
    with pytest.raises(InvalidInputError, match=r"labelled.csv, line 3: intent 'atm_problem'"):
        load_config(path)


@pytest.mark.parametrize(
    ("csv_text", "files", "reason"),
    [
        ("sentence,label\nhello,cancellation\n", None, "lacks column"),
        ("text,intent\n ,cancellation\n", None, "line 2: empty text"),
        ("text,intent\n", ["missing.csv"], "missing.csv"),
    ],
)
def test_bad_files_are_refused_with_a_reason(
    tmp_path: Path, csv_text: str, files: list[str] | None, reason: str
) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        load_config(_config_with(tmp_path, csv_text, files))
