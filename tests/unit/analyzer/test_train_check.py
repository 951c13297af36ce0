"""``python -m callpipe_tools.training.offline_analyzer --check``: the shipped model.json is what a fresh fit
on the dev calls gives for the bundled configuration, and a stale file fails the check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callpipe_analyzer.offline.supervised import DEFAULT_MODEL_PATH, SupervisedModels
from callpipe_tools.training import offline_analyzer as train

pytestmark = pytest.mark.slow  # one fit on the 208 dev calls (deterministic)


@pytest.fixture(scope="module")
def fresh_fit() -> tuple[SupervisedModels, list[str]]:
    return train.fit(train.DEFAULT_DATASET)


def test_the_shipped_model_is_current_and_a_stale_one_fails(
    fresh_fit: tuple[SupervisedModels, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # main() itself fits; the fixture's fit is the same (deterministic) and is done once.
    monkeypatch.setattr(train, "fit", lambda dataset, config_path=None: fresh_fit)
    assert train.main(["--check"]) == 0, (
        "model.json is stale: run python -m callpipe_tools.training.offline_analyzer"
    )
    assert "up to date" in capsys.readouterr().out

    stale = json.loads(DEFAULT_MODEL_PATH.read_text())
    stale["intent"]["bias"][0] += 0.01
    stale_path = tmp_path / "model.json"
    stale_path.write_text(json.dumps(stale))
    assert train.main(["--check", "--output", str(stale_path)]) == 1
    assert "differs from a fresh fit" in capsys.readouterr().out
    assert not train.is_current(fresh_fit[0], tmp_path / "missing.json")


def test_last_place_rounding_from_another_cpu_is_current_but_a_changed_label_is_not(
    fresh_fit: tuple[SupervisedModels, list[str]], tmp_path: Path
) -> None:
    shipped = json.loads(DEFAULT_MODEL_PATH.read_text())
    nudged = json.loads(json.dumps(shipped))
    nudged["sentiment"]["weights"][0][0] += 1e-5  # one unit in the 5th decimal
    nudged["intent"]["bank"][0][0] -= 1e-4
    path = tmp_path / "model.json"
    path.write_text(json.dumps(nudged))
    assert train.is_current(fresh_fit[0], path)

    relabelled = json.loads(json.dumps(shipped))
    relabelled["sentiment"]["labels"] = list(reversed(relabelled["sentiment"]["labels"]))
    path.write_text(json.dumps(relabelled))
    assert not train.is_current(fresh_fit[0], path)


def test_check_writes_nothing_beside_the_shipped_model(
    fresh_fit: tuple[SupervisedModels, list[str]],
) -> None:
    before = sorted(p.name for p in DEFAULT_MODEL_PATH.parent.iterdir())
    assert train.is_current(fresh_fit[0], DEFAULT_MODEL_PATH)
    assert sorted(p.name for p in DEFAULT_MODEL_PATH.parent.iterdir()) == before
