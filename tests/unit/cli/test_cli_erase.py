"""``callpipe erase``: arguments (one selector, a requester), refusals without a traceback, and a
dry run that counts against a real warehouse and store and changes nothing."""

from __future__ import annotations

import json

import pytest

from callpipe_cli.erase import _parser, main
from tests.unit.cli.conftest import PHONE, StoredCalls


def test_one_selector_is_required_and_they_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    args = parser.parse_args(["--call-id", "CA1", "--call-id", "CA2", "--by", "ticket 42"])
    assert (args.call_id, args.phone, args.by, args.dry_run, args.max_calls) == (
        ["CA1", "CA2"], None, "ticket 42", False, 10_000,
    )  # fmt: skip
    for argv, reason in [
        (["--by", "ticket 42"], "one of the arguments --call-id --phone is required"),
        (["--call-id", "CA1", "--phone", PHONE, "--by", "x"], "not allowed with argument"),
        (["--phone", PHONE], "the following arguments are required: --by"),
        (["--phone", PHONE, "--by", "x", "--max-calls", "many"], "invalid int value"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2
        assert reason in capsys.readouterr().err, argv


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--phone", "", "--by", "ticket 42"], "give call ids or a phone number"),
        (["--phone", PHONE, "--by", "  "], "needs a requester"),
        (["--phone", PHONE, "--by", "ticket 42", "--max-calls", "0"], "max_calls must be at least 1"),
    ],
)
def test_a_refused_request_exits_2_with_the_reason_before_touching_a_store(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A warehouse it cannot reach: refused before it would have tried.
    monkeypatch.setenv("CLICKHOUSE_URL", "http://127.0.0.1:9")
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err


def test_dry_run_counts_the_calls_rows_and_objects_and_removes_nothing(
    stored_calls: StoredCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--phone", PHONE, "--by", "dpo ticket 42", "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True and report["selector"] == "phone" and report["calls"] == 1
    assert report["rows_deleted"]["calls"] == 1 and report["rows_deleted"]["utterances"] > 0
    assert report["objects_deleted"] >= 2  # the audio and its marker, counted, not deleted
    assert stored_calls.count("SELECT count() FROM callpipe.calls") == 2
    assert stored_calls.count("SELECT count() FROM callpipe.erasures") == 0  # no audit: nothing done
    assert stored_calls.count("SELECT count() FROM callpipe.erased_calls") == 0
    for key in stored_calls.audio_keys:
        assert (stored_calls.store.root / key).exists(), key


def test_without_dry_run_it_erases_only_the_selected_call_and_audits_it(
    stored_calls: StoredCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--call-id", stored_calls.billing_id, "--by", "dpo ticket 43"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["dry_run"], report["selector"], report["calls"]) == (False, "call_id", 1)
    calls = "SELECT count() FROM callpipe.calls WHERE call_id = '{}'"
    assert stored_calls.count(calls.format(stored_calls.billing_id)) == 0
    assert stored_calls.count(calls.format(stored_calls.sales_id)) == 1
    assert (
        stored_calls.count("SELECT count() FROM callpipe.erasures WHERE requested_by = 'dpo ticket 43'") == 1
    )
    billing_keys, sales_keys = stored_calls.audio_keys[:2], stored_calls.audio_keys[2:]
    assert not any((stored_calls.store.root / k).exists() for k in billing_keys)
    assert all((stored_calls.store.root / k).exists() for k in sales_keys)
