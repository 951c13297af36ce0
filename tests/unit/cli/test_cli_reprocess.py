"""``callpipe reprocess``: arguments, refusals without a traceback, the progress line, and a dry
run that counts the selection against a real warehouse and publishes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callpipe_cli.reprocess import BAR_WIDTH, _parser, main, progress_line
from callpipe_sink.lifecycle.reprocess import DEFAULT_DRIP_PER_S
from tests.unit.cli.conftest import StoredCalls

WINDOW = ["--since", "2026-11-01", "--until", "2026-12-01T00:00:00+00:00"]


def test_the_window_and_the_stage_are_required_and_naive_times_are_utc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = _parser()
    args = parser.parse_args([*WINDOW, "--from", "analyze", "--call-id", "CA1", "--call-id", "CA2"])
    assert args.since == datetime(2026, 11, 1, tzinfo=UTC) and args.until == datetime(2026, 12, 1, tzinfo=UTC)
    assert (args.from_stage, args.call_id, args.rate, args.dry_run) == (
        "analyze",
        ["CA1", "CA2"],
        DEFAULT_DRIP_PER_S,
        False,
    )
    for argv, reason in [
        (["--since", "2026-11-01", "--from", "analyze"], "the following arguments are required: --until"),
        ([*WINDOW], "the following arguments are required: --from"),
        ([*WINDOW, "--from", "summarize"], "invalid choice: 'summarize'"),
        (["--since", "last tuesday", "--until", "2026-12-01", "--from", "analyze"], "not an ISO date"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2
        assert reason in capsys.readouterr().err, argv


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--since", "2026-12-02"], "until must be after since"),
        (["--rate", "0"], "rate must be positive"),
        (["--max-calls", "0"], "max_calls must be at least 1"),
    ],
)
def test_a_refused_selection_exits_2_with_the_reason(
    extra: list[str], reason: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLICKHOUSE_URL", "http://127.0.0.1:9")  # refused before it would connect
    with pytest.raises(SystemExit) as exit_:
        main([*WINDOW, "--from", "analyze", "--dry-run", *extra])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err


def test_progress_line_fills_the_bar_and_estimates_what_is_left() -> None:
    half = progress_line(50, 100, 10.0)
    assert half.startswith("[" + "#" * (BAR_WIDTH // 2) + "." * (BAR_WIDTH // 2) + "] 50/100")
    assert " 50.0%" in half and "5.0 calls/s" in half and "~10 s left" in half
    assert progress_line(0, 0, 0.0).startswith("[" + "#" * BAR_WIDTH + "] 0/0")  # nothing to do is done
    assert "0.0 calls/s, ~0 s left" in progress_line(0, 10, 0.0)  # no rate yet: no division by zero


def test_dry_run_prints_the_count_of_the_selection_and_publishes_nothing(
    stored_calls: StoredCalls, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    checkpoint = tmp_path / "reprocess.json"
    # No broker is configured or reachable: a publish would fail, a dry run never tries.
    assert main([*WINDOW, "--from", "analyze", "--dry-run", "--checkpoint", str(checkpoint)]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert (everything["selected"], everything["dry_run"], everything["published"]) == (2, True, 0)
    assert main([*WINDOW, "--from", "transcribe", "--queue", "billing", "--dry-run"]) == 0
    billing = json.loads(capsys.readouterr().out)
    assert (billing["selected"], billing["from_stage"]) == (1, "transcribe")
    assert main(["--since", "2026-12-01", "--until", "2027-01-01", "--from", "analyze", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["selected"] == 0  # another month: no call
    assert not checkpoint.exists()  # nothing published, so nothing to resume
    assert stored_calls.count("SELECT count() FROM callpipe.calls") == 2
