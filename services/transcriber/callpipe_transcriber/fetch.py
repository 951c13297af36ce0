"""Fetch a recording's bytes (https with Twilio auth, or the recording store) and archive it.

Downloads stream through httpx with a size limit and per-phase timeouts; transient failures
(connect errors, timeouts, 5xx) are retried here with exponential backoff before the error goes
to the runner, because a half-second blip should not cost a whole redelivery. Status codes map
to the error tree: 404/410 → InvalidInputError (the recording is gone: dead-letter), 401/403 →
DependencyUnavailableError (our credentials are wrong for every call: pause, do not dead-letter
the whole backlog), 429 → RateLimitedError(retry_after), 5xx → TransientError.

SSRF: an ``audio_uri`` comes from outside (an uploader's audio_url, a webhook). Redirects are
followed here by hand, and every hop passes ``callpipe.netguard.check_url`` (http(s), optional
host allow-list, IP literals in any spelling refused unless public); ``guarded_client`` builds the
client whose connections go only to public addresses, resolved and checked at connect time.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from callpipe.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
)
from callpipe.netguard import FetchRefusedError, check_url, guarded_transport, is_refusal, loggable_url
from callpipe.store import RecordingStore

__all__ = [
    "AudioFetcher",
    "FetchOptions",
    "archive_key",
    "guarded_client",
    "parse_retry_after",
    "twilio_media_url",
]

_TWILIO_HOST = "api.twilio.com"
_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/webm": ".webm",
}


@dataclass(frozen=True, slots=True)
class FetchOptions:
    max_bytes: int = 512 * 1024 * 1024
    attempts: int = 3
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    allow_private_urls: bool = False  # SSRF guard off: only for pipelines that fetch from a LAN
    allowed_hosts: tuple[str, ...] = ()  # non-empty: only these hosts (and subdomains) are fetched
    max_redirects: int = 3


def guarded_client(
    timeout: httpx.Timeout | float = 60.0, *, allow_private: bool = False
) -> httpx.AsyncClient:
    """An httpx client that connects only to public addresses (each resolved address checked);
    ``allow_private`` (TRANSCRIBER_ALLOW_PRIVATE_URLS) lets it reach LAN addresses too, for
    pipelines that download from an on-premise media server."""
    if allow_private:
        return httpx.AsyncClient(timeout=timeout, transport=guarded_transport(policy=lambda _a, _p: True))
    return httpx.AsyncClient(timeout=timeout, transport=guarded_transport())


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare on APIs)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def twilio_media_url(url: str) -> str:
    """Twilio serves a Recording resource's audio at ``…/Recordings/RE….wav`` (dual-channel WAV
    when recorded dual); the bare resource URL returns metadata, so ask for the ``.wav`` variant."""
    parts = urlsplit(url)
    if parts.hostname == _TWILIO_HOST and "/Recordings/" in parts.path:
        last = parts.path.rsplit("/", 1)[-1]
        if "." not in last:
            return parts._replace(path=parts.path + ".wav").geturl()
    return url


def archive_key(call_id: str, recording_id: str, content_type: str | None, url: str) -> str:
    """Store key ``<call_id>/<recording_id><ext>``; extension from the MIME type or the URL."""
    ext = _EXTENSIONS.get((content_type or "").split(";")[0].strip().lower(), "")
    if not ext:
        last = urlsplit(url).path.rsplit("/", 1)[-1]
        ext = "." + last.rsplit(".", 1)[1].lower() if "." in last else ".bin"
    return _join(call_id, recording_id, ext)


def _join(call_id: str, recording_id: str, ext: str) -> str:
    def clean(part: str) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in part).strip(".") or "_"

    return f"{clean(call_id)}/{clean(recording_id)}{ext}"


class AudioFetcher:
    """Gets audio bytes for a ``RecordingReady.audio_uri``."""

    def __init__(self, client: httpx.AsyncClient, store: RecordingStore, options: FetchOptions) -> None:
        self._client = client
        self._store = store
        self._options = options

    async def fetch(self, uri: str) -> tuple[bytes, str | None]:
        """(bytes, content type when the server said) for an https URL or a store URI."""
        try:
            scheme = urlsplit(uri).scheme
        except ValueError:  # e.g. http://[::1/a: a bad event, dead-lettered, not a crash
            raise InvalidInputError(f"malformed audio_uri: {loggable_url(uri)}") from None
        if scheme in ("file", "s3"):
            return await self._store.get(uri), None
        if scheme not in ("http", "https"):
            raise InvalidInputError(f"unsupported audio_uri scheme {scheme!r}: {uri}")
        try:
            check_url(uri, allow_private=True)  # parses only; the policy is applied per hop below
        except FetchRefusedError as exc:
            raise InvalidInputError(f"malformed audio_uri {loggable_url(uri)}: {exc}") from None
        url = twilio_media_url(uri)
        delay = self._options.backoff_initial_s
        for attempt in range(1, self._options.attempts + 1):
            try:
                return await self._download(url)
            except (TransientError, DependencyUnavailableError) as exc:
                if attempt == self._options.attempts or isinstance(exc, DependencyUnavailableError):
                    raise
                wait = exc.retry_after if exc.retry_after is not None else delay * (1 + random.random())
                await asyncio.sleep(min(wait, self._options.backoff_max_s))
                delay = min(delay * 2, self._options.backoff_max_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def _auth(self, url: str) -> httpx.BasicAuth | None:
        opts = self._options
        if urlsplit(url).hostname == _TWILIO_HOST and opts.twilio_account_sid and opts.twilio_auth_token:
            return httpx.BasicAuth(opts.twilio_account_sid, opts.twilio_auth_token.get_secret_value())
        return None

    async def _download(self, url: str) -> tuple[bytes, str | None]:
        safe_url = loggable_url(url)  # no signed tokens in logs
        opts = self._options
        hop = url
        try:
            for _ in range(opts.max_redirects + 1):
                check_url(hop, allow_private=opts.allow_private_urls, allowed_hosts=opts.allowed_hosts)
                auth = self._auth(hop)  # per hop: Twilio credentials never follow a redirect elsewhere
                request = self._client.build_request("GET", hop)
                response = await self._client.send(
                    request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True, follow_redirects=False
                )
                try:
                    if response.is_redirect and "location" in response.headers:
                        hop = str(response.url.join(response.headers["location"]))
                        continue
                    return await self._read(response, safe_url)
                finally:
                    await response.aclose()
            raise InvalidInputError(f"more than {opts.max_redirects} redirects from {safe_url}")
        except FetchRefusedError as exc:
            raise InvalidInputError(f"recording URL refused by the SSRF guard: {exc}") from exc
        except (httpx.InvalidURL, ValueError) as exc:  # a redirect to a URL that does not parse
            raise InvalidInputError(f"malformed redirect from {safe_url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout downloading {safe_url}: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            if is_refusal(exc):  # the guarded transport refused a non-public address
                raise InvalidInputError(f"recording URL refused by the SSRF guard: {exc}") from exc
            raise TransientError(f"network error downloading {safe_url}: {type(exc).__name__}") from exc

    async def _read(self, response: httpx.Response, safe_url: str) -> tuple[bytes, str | None]:
        status = response.status_code
        if status in (404, 410):
            raise InvalidInputError(f"recording not found ({status}) at {safe_url}")
        if status in (401, 403):
            raise DependencyUnavailableError(f"recording download refused ({status}): check credentials")
        if status == 429:
            raise RateLimitedError(
                f"recording download throttled at {safe_url}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            raise TransientError(f"recording download failed ({status}) at {safe_url}")
        if status >= 400:
            raise InvalidInputError(f"recording download rejected ({status}) at {safe_url}")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._options.max_bytes:
            raise InvalidInputError(
                f"recording is {declared} bytes, over the {self._options.max_bytes} limit"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._options.max_bytes:
                raise InvalidInputError(f"recording exceeds the {self._options.max_bytes}-byte limit")
            chunks.append(chunk)
        content_type = response.headers.get("content-type")
        return b"".join(chunks), content_type
