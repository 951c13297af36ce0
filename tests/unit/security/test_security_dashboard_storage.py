"""The dashboard keeps the insights token in sessionStorage only (issue 16 item 7).

localStorage outlives the tab and is readable by any later script on the origin; a cookie would
be sent on every request and kept on disk. The script is read as text (comments stripped): the
only localStorage call allowed is ``removeItem`` (clearing what an older version left), and no
alias of localStorage or write to document.cookie may exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DASHBOARD_JS = (
    Path(__file__).resolve().parents[3] / "services/sink/callpipe_sink/insights/static/dashboard.js"
)


def _code(text: str) -> str:
    """The script without // and /* */ comments (no string in it holds '//' before a quote)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"(^|[^:\"'`])//.*$", r"\1", line) for line in text.splitlines())


def local_storage_uses(code: str) -> list[str]:
    """Every way the code touches localStorage: ``.method`` names, or the bare reference."""
    uses = []
    for match in re.finditer(r"\blocalStorage\b(\s*\.\s*(\w+)|\s*\[)?", code):
        uses.append(match.group(2) or ("[...]" if match.group(1) else "bare"))
    return uses


def test_the_token_never_goes_to_local_storage_or_a_cookie() -> None:
    code = _code(DASHBOARD_JS.read_text())
    assert local_storage_uses(code) == ["removeItem"]
    assert not re.search(r"document\s*\.\s*cookie\s*=", code)
    # Where it does go: the tab's sessionStorage, under the key the removal clears.
    assert 'sessionStorage.setItem("callpipe-token"' in code
    assert 'localStorage.removeItem("callpipe-token")' in code


@pytest.mark.parametrize(
    ("snippet", "uses"),
    [
        ('localStorage.setItem("callpipe-token", t);', ["setItem"]),
        ("const s = localStorage; s.setItem('t', x);", ["bare"]),
        ("localStorage['callpipe-token'] = t;", ["[...]"]),
        ("window.localStorage .getItem('t')", ["getItem"]),
        ("// localStorage.setItem('t', x) in a comment\nsessionStorage.setItem('t', x);", []),
    ],
)
def test_the_scan_sees_every_kind_of_use(snippet: str, uses: list[str]) -> None:
    """Control: the scan above would catch a store, an alias or an index write."""
    assert local_storage_uses(_code(snippet)) == uses
