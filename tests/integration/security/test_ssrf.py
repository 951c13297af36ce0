"""SSRF probes against ingest's audio_url and the transcriber's download, with real sockets.

Every "internal" target is a real HTTP server on 127.0.0.1 that records its hits: a probe passes
only when the server saw nothing (or, for the allowed hop, exactly what was allowed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from callpipe.avro import LocalSchemaRegistry
from callpipe.errors import CallpipeError, InvalidInputError
from callpipe.netguard import (
    FetchRefusedError,
    check_url,
    guarded_transport,
    is_public_address,
    literal_address,
    loggable_url,
)
from callpipe.settings import RecordingStoreSettings, TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app
from callpipe_transcriber import __main__ as transcriber_main
from callpipe_transcriber.__main__ import build_ports
from callpipe_transcriber.fetch import AudioFetcher, FetchOptions
from callpipe_transcriber.settings import TranscriberSettings
from tests.integration.security.local_http import LocalServer, serve
from tests.unit.ingest.ingest_support import API_TOKEN, BASE, MemorySender, make_settings, wav_bytes

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
AUDIO = wav_bytes(seconds=1.0, seed=9)


async def _ready() -> str | None:
    return None


@pytest.fixture
def internal() -> Iterator[LocalServer]:
    with serve(
        {"/a.wav": (200, {"Content-Type": "audio/wav"}, AUDIO), "/internal": (200, {}, b"secret")}
    ) as s:
        yield s


async def _client(
    tmp_path: Path, http: httpx.AsyncClient | None = None, **settings: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        make_settings(**settings),
        MemorySender(),
        LocalRecordingStore(tmp_path / "rec"),
        registry=LocalSchemaRegistry.from_directory(),
        http_client=http,
        readiness=_ready,
    )
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::1]",
    ],
)
async def test_audio_url_to_loopback_in_any_spelling_is_refused(
    host: str, internal: LocalServer, tmp_path: Path
) -> None:
    async for client in _client(tmp_path):
        answer = await client.post(
            "/recordings", data={"audio_url": internal.url("/a.wav", host)}, headers=AUTH
        )
    assert answer.status_code == 422
    assert answer.json() == {"detail": "audio_url could not be fetched"}
    assert internal.hits == []


async def test_redirect_to_an_internal_address_is_not_followed(tmp_path: Path) -> None:
    with serve({"/internal": (200, {}, b"secret")}) as inner:
        redirect = {"/r": (302, {"Location": inner.url("/internal")}, b"")}
        with serve(redirect) as outer:
            # The connection policy allows exactly the outer server (standing in for a public host).
            allow_outer = httpx.AsyncClient(
                transport=guarded_transport(policy=lambda _a, port: port == outer.port)
            )
            async for client in _client(tmp_path, allow_outer, allow_private_urls=True):
                answer = await client.post("/recordings", data={"audio_url": outer.url("/r")}, headers=AUTH)
            await allow_outer.aclose()
            assert outer.hits == ["/r"]
    assert answer.status_code == 422
    assert inner.hits == []


async def test_redirect_to_a_literal_loopback_is_refused_before_connecting(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://127.1:9/internal"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async for client in _client(tmp_path, http):
        answer = await client.post(
            "/recordings", data={"audio_url": "https://files.example.com/a"}, headers=AUTH
        )
    assert answer.status_code == 422
    assert seen == ["https://files.example.com/a"]


async def test_closed_port_open_port_and_refused_address_look_the_same(
    tmp_path: Path, internal: LocalServer
) -> None:
    """No port scanning: every failure is the same 422 with the same body."""
    answers = []
    closed = LocalServer(port=1).url("/a.wav")
    lan_allowed = httpx.AsyncClient(transport=guarded_transport(policy=lambda _a, _p: True))
    async for client in _client(tmp_path, lan_allowed, allow_private_urls=True):
        for url in (closed, internal.url("/missing"), "ftp://example.com/a.wav"):
            answers.append(await client.post("/recordings", data={"audio_url": url}, headers=AUTH))
    await lan_allowed.aclose()
    async for client in _client(tmp_path):
        answers.append(
            await client.post("/recordings", data={"audio_url": internal.url("/a.wav")}, headers=AUTH)
        )
    bodies = {(a.status_code, a.text) for a in answers}
    assert bodies == {(422, '{"detail":"audio_url could not be fetched"}')}


async def test_allow_list_refuses_other_hosts(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, content=AUDIO)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async for client in _client(tmp_path, http, audio_url_hosts=["media.example.com"]):
        ok = await client.post(
            "/recordings", data={"audio_url": "https://cdn.media.example.com/a.wav"}, headers=AUTH
        )
        other = await client.post(
            "/recordings", data={"audio_url": "https://evil.example.net/a.wav"}, headers=AUTH
        )
    assert ok.status_code == 201, ok.text
    assert other.status_code == 422
    assert seen == ["cdn.media.example.com"]


async def test_private_urls_work_when_explicitly_allowed(tmp_path: Path, internal: LocalServer) -> None:
    async for client in _client(tmp_path, allow_private_urls=True):
        answer = await client.post("/recordings", data={"audio_url": internal.url("/a.wav")}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    assert internal.hits == ["/a.wav"]


# URLs the standard library or httpx cannot parse: each once gave a 500 (ValueError / InvalidURL
# escaped the download's error handling). Also used by the fuzz test's URL strategy.
MALFORMED_URLS = [
    "http://[::1/a.wav",  # unclosed IPv6 bracket
    "http://\x00x.com/a.wav",  # NUL byte
    "http://[zz]/a.wav",  # bracketed non-address
    "http://files.example.com:abc/a.wav",  # non-numeric port
    "http://files.example.com:99999/a.wav",  # port out of range
    "http://files .example.com/a.wav",  # space in the host
    "http://files.example.com/a\r\nX-Injected: 1",  # header/log injection attempt
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
async def test_malformed_audio_url_is_the_generic_422(url: str, tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=AUDIO)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async for client in _client(tmp_path, http):
        answer = await client.post("/recordings", data={"audio_url": url}, headers=AUTH)
    assert (answer.status_code, answer.json()) == (422, {"detail": "audio_url could not be fetched"})
    assert seen == []


async def test_redirect_to_a_malformed_location_is_the_generic_422(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://[::1/x"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async for client in _client(tmp_path, http):
        answer = await client.post(
            "/recordings", data={"audio_url": "https://files.example.com/a.wav"}, headers=AUTH
        )
    assert (answer.status_code, answer.json()) == (422, {"detail": "audio_url could not be fetched"})


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_check_url_refuses_malformed_urls_with_its_own_error(url: str) -> None:
    with pytest.raises(FetchRefusedError, match="malformed URL"):
        check_url(url, allow_private=True)
    assert "\n" not in loggable_url(url) and "\x00" not in loggable_url(url)


def test_address_classification() -> None:
    internal = ["127.0.0.1", "10.1.2.3", "169.254.169.254", "224.0.0.1", "240.0.0.1", "0.0.0.0", "::1"]
    internal += ["fe80::1", "fc00::1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "100.64.0.1"]
    for bad in internal:
        assert not is_public_address(ipaddress.ip_address(bad)), bad
    assert is_public_address(ipaddress.ip_address("93.184.216.34"))
    assert is_public_address(ipaddress.ip_address("2606:4700::1111"))
    assert literal_address("2130706433") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("127.1") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("files.example.com") is None
    with pytest.raises(httpx.TransportError):
        check_url("http://user:pw@example.com/a")


# ---- transcriber download path -------------------------------------------------------------
async def test_transcriber_download_refuses_loopback_names_and_redirects(
    tmp_path: Path, internal: LocalServer
) -> None:
    store = LocalRecordingStore(tmp_path)
    async with httpx.AsyncClient(transport=guarded_transport()) as http:
        fetcher = AudioFetcher(http, store, FetchOptions(attempts=1))
        for host in ("localhost", "127.1", "2130706433"):
            with pytest.raises(InvalidInputError):
                await fetcher.fetch(internal.url("/a.wav", host))
    assert internal.hits == []

    with serve({"/r": (302, {"Location": internal.url("/internal")}, b"")}) as outer:
        policy = httpx.AsyncClient(transport=guarded_transport(policy=lambda _a, port: port == outer.port))
        fetcher = AudioFetcher(policy, store, FetchOptions(attempts=1, allow_private_urls=True))
        with pytest.raises(InvalidInputError):
            await fetcher.fetch(outer.url("/r"))
        await policy.aclose()
        assert outer.hits == ["/r"]
    assert internal.hits == []


@pytest.mark.parametrize("url", MALFORMED_URLS)
async def test_transcriber_download_of_a_malformed_url_is_invalid_input(url: str, tmp_path: Path) -> None:
    """Dead-lettered with a reason (InvalidInputError), not an unexpected exception."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=AUDIO)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        fetcher = AudioFetcher(http, LocalRecordingStore(tmp_path), FetchOptions(attempts=1))
        with pytest.raises(InvalidInputError, match="malformed audio_uri"):
            await fetcher.fetch(url)
    assert seen == []


async def test_transcriber_redirect_to_a_malformed_location_stays_in_the_error_tree(tmp_path: Path) -> None:
    """httpx reports a Location it cannot parse as a protocol error: retried as transient, like
    any misbehaving server, and never an exception the runner does not know."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://[::1/x"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        fetcher = AudioFetcher(
            http, LocalRecordingStore(tmp_path), FetchOptions(attempts=1, backoff_initial_s=0)
        )
        with pytest.raises(CallpipeError):
            await fetcher.fetch("https://files.example.com/a.wav")


async def test_transcriber_download_allow_list(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"RIFF")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        fetcher = AudioFetcher(
            http, LocalRecordingStore(tmp_path), FetchOptions(allowed_hosts=("api.twilio.com",))
        )
        with pytest.raises(InvalidInputError):
            await fetcher.fetch("https://evil.example.net/a.wav")
        assert (await fetcher.fetch("https://api.twilio.com/a.wav"))[0] == b"RIFF"


# ---- transcriber settings: TRANSCRIBER_DOWNLOAD_HOSTS, TRANSCRIBER_ALLOW_PRIVATE_URLS ---------
class _NoEngine:
    name, model = "none", "none"

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_transcriber_download_hosts_setting_reaches_the_fetcher(tmp_path: Path) -> None:
    """Was: FetchOptions had an allow-list, but no setting fed it, so the service fetched any host."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, content=b"RIFF")

    settings = TranscriberSettings(download_hosts=["API.twilio.com"])  # any case, as typed in an env
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        ports = build_ports(settings, http, LocalRecordingStore(tmp_path), _NoEngine())  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="allow-list"):
            await ports.fetcher.fetch("https://evil.example.net/a.wav")
        assert (await ports.fetcher.fetch("https://api.twilio.com/a.wav"))[0] == b"RIFF"
    assert seen == ["api.twilio.com"]


@pytest.mark.parametrize("allow_private", [False, True])
async def test_transcriber_service_wires_the_private_url_setting_into_its_download_client(
    allow_private: bool, internal: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's own builder (transcriber_stage), with the engine stubbed: its download client
    and fetcher refuse 127.0.0.1 by default and reach it only with the setting."""
    captured: dict[str, object] = {}

    def capture(
        settings: TranscriberSettings, http: httpx.AsyncClient, store: object, engine: object
    ) -> object:
        ports = build_ports(settings, http, store, engine)  # type: ignore[arg-type]
        captured["ports"] = ports
        return ports

    monkeypatch.setattr(transcriber_main, "build_engine", lambda _settings, _http: _NoEngine())
    monkeypatch.setattr(transcriber_main, "build_ports", capture)
    settings = TranscriberSettings(allow_private_urls=allow_private, model_cache_dir=tmp_path / "models")
    store_settings = RecordingStoreSettings(url=f"file://{tmp_path / 'rec'}")
    env = SimpleNamespace(topics=TopicSettings(), registry=LocalSchemaRegistry.from_directory())
    async with transcriber_main.transcriber_stage(settings, store_settings)(env):  # type: ignore[arg-type]
        fetcher = captured["ports"].fetcher  # type: ignore[attr-defined]
        if allow_private:
            assert (await fetcher.fetch(internal.url("/a.wav")))[0] == AUDIO
        else:
            with pytest.raises(InvalidInputError, match="SSRF guard"):
                await fetcher.fetch(internal.url("/a.wav"))
    assert internal.hits == (["/a.wav"] if allow_private else [])
