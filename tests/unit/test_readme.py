"""The README documents what the code does: its configuration table is the generated one."""

from __future__ import annotations

from pathlib import Path

from callpipe_cli.configdoc import BEGIN, END, render_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_configuration_table_is_current() -> None:
    text = README.read_text()
    begin, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[begin:end] == render_markdown(), (
        "README configuration table is stale: replace it with `uv run callpipe config-doc`"
    )


def test_two_setup_commands_are_documented() -> None:
    text = README.read_text()
    assert "./dev demo" in text
    assert "./dev test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./dev test" in ci
