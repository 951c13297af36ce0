"""X-Twilio-Signature: Twilio's documented example, the twilio package's own signatures, forgeries."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from callpipe_ingest.signature import SignatureError, TwilioSignatureVerifier

# Twilio's documented example (docs "Secure webhooks" / api-snippets signature_validation):
# auth token 12345, this URL and these parameters give the signature below.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def verifier(base: str | None = None) -> TwilioSignatureVerifier:
    return TwilioSignatureVerifier(SecretStr("12345"), base)


def test_documented_example_validates() -> None:
    verifier().verify(DOC_URL, DOC_PARAMS, {"x-twilio-signature": DOC_SIGNATURE})


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (DOC_URL, [*DOC_PARAMS[:2], ("Digits", "1235"), *DOC_PARAMS[3:]]),  # replayed with a changed param
        (DOC_URL, [*DOC_PARAMS, ("RecordingUrl", "https://evil.example/x")]),  # an added param
        (DOC_URL, DOC_PARAMS[:-1]),  # a dropped param
        ("https://mycompany.com/myapp.php?foo=1&bar=3", DOC_PARAMS),  # a changed query
        ("http://mycompany.com/myapp.php?foo=1&bar=2", DOC_PARAMS),  # another scheme
    ],
)
def test_changed_request_with_documented_signature_is_refused(
    url: str, params: list[tuple[str, str]]
) -> None:
    with pytest.raises(SignatureError):
        verifier().verify(url, params, {"x-twilio-signature": DOC_SIGNATURE})


def test_missing_and_forged_signatures_are_refused() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verifier().verify(DOC_URL, DOC_PARAMS, {})
    forged = RequestValidator("not-the-token").compute_signature(DOC_URL, dict(DOC_PARAMS))
    with pytest.raises(SignatureError, match="does not match"):
        verifier().verify(DOC_URL, DOC_PARAMS, {"x-twilio-signature": forged})


def test_no_auth_token_refuses_everything() -> None:
    with pytest.raises(SignatureError, match="not configured"):
        TwilioSignatureVerifier(None, None).verify(DOC_URL, DOC_PARAMS, {"x-twilio-signature": DOC_SIGNATURE})


def test_public_base_url_replaces_what_the_proxy_hides() -> None:
    v = verifier("https://calls.example.com/")
    assert (
        v.public_url("http://10.0.0.5:8080/twilio/voice?a=1", "/twilio/voice", "a=1")
        == "https://calls.example.com/twilio/voice?a=1"
    )
    assert verifier(None).public_url("http://h/x", "/x", "") == "http://h/x"


def test_repeated_keys_are_signed_as_twilio_does() -> None:
    params = [("StatusCallbackEvent", "answered"), ("StatusCallbackEvent", "completed"), ("CallSid", "CA1")]
    signature = RequestValidator("12345").compute_signature(DOC_URL, ImmutableMultiDict(params))
    verifier().verify(DOC_URL, params, {"x-twilio-signature": signature})
    with pytest.raises(SignatureError):
        verifier().verify(DOC_URL, params[1:], {"x-twilio-signature": signature})
