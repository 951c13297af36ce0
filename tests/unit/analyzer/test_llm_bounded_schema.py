"""The bounded schema for grammar-constrained servers caps every list; the default stays unbounded."""

from __future__ import annotations

from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.prompt import LIST_BOUNDS, analysis_schema


def test_bounded_schema_caps_every_list_and_default_has_no_caps() -> None:
    config = load_config()
    bounded = analysis_schema(config, bounded=True)["properties"]
    plain = analysis_schema(config)["properties"]
    lists = {name for name, prop in plain.items() if prop.get("type") == "array"}
    assert lists == {*LIST_BOUNDS, "custom_answers"}
    for name, most in LIST_BOUNDS.items():
        assert bounded[name]["maxItems"] == most
    assert bounded["custom_answers"]["maxItems"] == len(config.custom_questions)
    assert all("maxItems" not in plain[name] for name in lists)
