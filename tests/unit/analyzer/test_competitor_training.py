"""The competitor sets and the context classifier's training helpers."""

from __future__ import annotations

import numpy as np
import yaml

from callpipe_tools.training.competitor_context import _best_threshold
from callpipe_tools.training.competitor_sets import SETS, group_of, name_key


def _rows(name: str) -> set[int]:
    return {t["row"] for t in yaml.safe_load((SETS / name).read_text(encoding="utf-8"))["tweets"]}


def test_training_and_evaluation_rows_are_disjoint() -> None:
    evaluation = ["airline_heldout.yaml", "airline_heldout2.yaml", "airline_heldout3.yaml"]
    training = ["airline_train.yaml", "airline_dev.yaml"]
    every = evaluation + training
    for i, first in enumerate(every):
        for second in every[i + 1 :]:
            assert not _rows(first) & _rows(second), (first, second)


def test_names_compare_on_their_key() -> None:
    assert name_key("SouthwestAir") == name_key("Southwest") == "southwest"
    assert name_key("Virgin Atlantic") != name_key("Virgin America")


def test_sampling_groups() -> None:
    assert group_of("United", "@united never again, I'm flying Delta") == "other_carrier"
    # The source's "Delta" rows are tweets to JetBlue: JetBlue is their own brand.
    assert group_of("Delta", "@JetBlue love JetBlue") == "other"
    assert group_of("American", "@AmericanAir and @USAirways lost my bag") == "other"
    assert group_of("Southwest", "@SouthwestAir I'll take another airline next time") == "choice_word"


def test_the_threshold_separates_the_classes() -> None:
    probabilities = np.asarray([0.1, 0.2, 0.35, 0.6, 0.7, 0.9], dtype=np.float32)
    truth = np.asarray([False, False, False, True, True, True])
    threshold, f1, precision, recall = _best_threshold(probabilities, truth)
    assert 0.35 < threshold <= 0.6
    assert (f1, precision, recall) == (1.0, 1.0, 1.0)
