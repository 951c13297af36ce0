"""The README and docs/configuration.md document what the code does: the configuration table is
the generated one, and the README names the two set-up commands."""

from __future__ import annotations

from pathlib import Path

from callpipe_cli.configdoc import BEGIN, END, render_markdown

README = Path(__file__).resolve().parents[2] / "README.md"
CONFIGURATION = README.parent / "docs" / "configuration.md"


def test_configuration_table_is_current() -> None:
    text = CONFIGURATION.read_text()
    begin, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[begin:end] == render_markdown(), (
        "docs/configuration.md table is stale: replace it with `uv run callpipe config-doc`"
    )


def test_two_setup_commands_are_documented() -> None:
    text = README.read_text()
    assert "./dev demo" in text
    assert "./dev test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./dev test" in ci


def test_the_readme_points_at_the_configuration_and_architecture_pages() -> None:
    text = README.read_text()
    for page in ("docs/configuration.md", "docs/architecture.md", "docs/operations.md"):
        assert f"]({page}" in text, page
        assert (README.parent / page).exists(), page
