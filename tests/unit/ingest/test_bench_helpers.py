"""The ingest bench's own Twilio signer and percentile: a bench whose requests were refused, or
whose percentiles were off by one rank, would report figures for something else."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from callpipe_bench.ingest_bench import percentile, twilio_signature

# Twilio's documented example (also used in test_signature.py).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signer_matches_twilios_documented_example() -> None:
    assert twilio_signature("12345", DOC_URL, DOC_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signer_agrees_with_the_twilio_package() -> None:
    params = {"RecordingSid": "RE" + "a" * 32, "RecordingStatus": "completed", "Zeta": "", "alpha": "ü"}
    url = "http://127.0.0.1:8080/twilio/recording-status?queue=support&dir=inbound"
    assert twilio_signature("tok", url, params) == RequestValidator("tok").compute_signature(url, params)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_percentile_of_nothing_is_nan() -> None:
    assert percentile([], 50) != percentile([], 50)  # NaN
