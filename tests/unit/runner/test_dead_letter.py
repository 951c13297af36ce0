from callpipe.errors import PoisonMessageError
from callpipe.runner import dead_letter_headers
from callpipe.runner._dead_letter import MAX_REASON_BYTES


def test_headers_keep_the_originals_and_say_why_and_where():
    headers = dead_letter_headers(
        [("traceparent", b"00-abc"), ("source", "twilio")],
        error=PoisonMessageError("unknown magic byte 7"),
        stage="transcriber",
        topic="callpipe.recordings",
        partition=3,
        offset=1234,
        attempts=1,
        now_ms=1_700_000_000_000,
    )
    as_dict = dict(headers)
    assert headers[:2] == [("traceparent", b"00-abc"), ("source", b"twilio")]
    assert as_dict["x-callpipe-error-class"] == b"PoisonMessageError"
    assert as_dict["x-callpipe-error-message"] == b"unknown magic byte 7"
    assert as_dict["x-callpipe-stage"] == b"transcriber"
    assert as_dict["x-callpipe-source-topic"] == b"callpipe.recordings"
    assert as_dict["x-callpipe-source-partition"] == b"3"
    assert as_dict["x-callpipe-source-offset"] == b"1234"
    assert as_dict["x-callpipe-attempts"] == b"1"
    assert as_dict["x-callpipe-dead-lettered-at-ms"] == b"1700000000000"


def test_earlier_failure_headers_are_replaced_not_stacked():
    first = dead_letter_headers(
        None, error=ValueError("first"), stage="s", topic="t", partition=0, offset=1, attempts=5
    )
    second = dead_letter_headers(
        first, error=KeyError("second"), stage="s", topic="t", partition=0, offset=1, attempts=2
    )
    names = [n for n, _ in second]
    assert names.count("x-callpipe-error-class") == 1
    assert dict(second)["x-callpipe-error-class"] == b"KeyError"


def test_long_reasons_are_truncated_and_none_values_kept():
    headers = dead_letter_headers(
        {"empty": None},
        error=RuntimeError("x" * 100_000),
        stage="s",
        topic="t",
        partition=0,
        offset=0,
        attempts=1,
    )
    as_dict = dict(headers)
    assert as_dict["empty"] == b""
    assert len(as_dict["x-callpipe-error-message"]) == MAX_REASON_BYTES
    assert as_dict["x-callpipe-error-message"].endswith(b"...")
