"""PCI in audio on speech: a card number read out in a synthesized call (espeak-ng) is heard by
speech-to-text (faster-whisper tiny.en, local) before the analyzer's audio redaction and not
after it — through the transcriber's and the analyzer's own stages and a real recording store.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from callpipe_bench.audio_redaction_eval import CARD, run_eval

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.mark.timeout(300)
def test_a_spoken_card_number_is_not_heard_in_the_redacted_recording(tmp_path: Path) -> None:
    figures = asyncio.run(run_eval("tiny.en", "tone", tmp_path))
    # Before: speech-to-text hears (nearly) the whole number and the text redactor finds a card.
    assert figures.before_run >= len(CARD) - 2, figures.before_text
    assert figures.before_cards == 1
    # After: at most a stray digit or three in a row survives, and no card number is left.
    assert figures.after_run < 4, figures.after_text
    assert figures.after_cards == 0
    assert figures.original_deleted and "audio_redacted" in figures.flags
    assert 2.0 < figures.redacted_seconds < 20.0  # the number and the code, not the whole call
