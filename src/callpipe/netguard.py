"""SSRF guard for fetching caller-supplied URLs (ingest ``audio_url``, the transcriber's download).

Two layers, because either alone is bypassable:

* ``check_url`` — before every hop (the first request and every redirect, which callers follow by
  hand): http(s) only, optional host allow-list, and IP literals in *any* spelling the C resolver
  accepts (``127.1``, ``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``) normalised and refused
  when not public.
* ``guarded_transport`` — at connect time: the host name is resolved once, *every* address it
  resolves to must be public, and the socket connects to the checked address itself. A name that
  resolves to 127.0.0.1 (``localhost``, a rebinding DNS server) never gets a connection, and a
  second lookup cannot swap the address between check and connect.

Callers turn every ``FetchRefusedError`` and every transport error into ONE generic answer, so the
fetch cannot be used as a port scanner; the reason goes to the log only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = [
    "FetchRefusedError",
    "GuardedNetworkBackend",
    "check_url",
    "guarded_transport",
    "is_public_address",
    "is_refusal",
    "literal_address",
    "loggable_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
# (address, port) -> allowed; the default refuses every address that is not globally routable.
AddressPolicy = Callable[[IPAddress, int], bool]


class FetchRefusedError(httpx.TransportError):
    """The guard refused a URL or an address; the message is for the log, never for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


_REFUSED = "refused by the SSRF guard:"


def is_refusal(exc: BaseException) -> bool:
    """True for the guarded transport's refusal (httpx re-raises it as a plain ConnectError)."""
    return isinstance(exc, FetchRefusedError) or _REFUSED in str(exc)


def is_public_address(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, multicast, reserved, or a
    v4-mapped/compatible/NAT64/6to4 spelling of one of those."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and int(address) >> 32 == 0:  # deprecated v4-compatible ::a.b.c.d
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
    )


def literal_address(host: str) -> IPAddress | None:
    """The address a host *literal* denotes, in any spelling inet_aton accepts; None for names."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # 127.1, 2130706433, 0x7f.0.0.1
    except OSError:
        return None


def _default_policy(address: IPAddress, _port: int) -> bool:
    return is_public_address(address)


def _has_control_or_space(url: str) -> bool:
    return any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url)


def check_url(url: str, *, allow_private: bool = False, allowed_hosts: Sequence[str] = ()) -> str:
    """The URL's host name (lower case) when the URL may be fetched; FetchRefusedError otherwise.

    A URL that does not parse (``http://[::1/a``, a port over 65535, a NUL or a space anywhere) is
    refused here too, so callers see one kind of error for every URL they cannot fetch: the
    standard library raises ValueError for these, which would otherwise escape as a 500.
    """
    if _has_control_or_space(url):
        raise FetchRefusedError("malformed URL: control character or white space")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # range-checked on access
    except ValueError as exc:
        raise FetchRefusedError(f"malformed URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise FetchRefusedError(f"not an http(s) URL: scheme {parts.scheme!r}")
    if parts.username or parts.password:
        raise FetchRefusedError("credentials in the URL")
    host = hostname.lower().rstrip(".")
    allowed = [h.lower().rstrip(".") for h in allowed_hosts]  # settings may spell them in any case
    if allowed and not any(host == h or host.endswith("." + h) for h in allowed):
        raise FetchRefusedError(f"host {host!r} is not on the audio host allow-list")
    literal = literal_address(host)
    if literal is not None and not allow_private and not is_public_address(literal):
        raise FetchRefusedError(f"address {literal} is not public")
    return host


def loggable_url(url: str) -> str:
    """``url`` without query and fragment (signed tokens stay out of logs) and with control
    characters shown as ``?`` (no forged log lines); a fixed text when the URL does not parse, so
    building a log line never raises."""
    try:
        safe = urlsplit(url)._replace(query="", fragment="").geturl()
    except ValueError:
        return "<malformed URL>"
    return "".join(ch if ch.isprintable() else "?" for ch in safe)


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend: resolve, check every address, connect to the checked one."""

    def __init__(
        self,
        *,
        policy: AddressPolicy = _default_policy,
        resolve: Resolver = _system_resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = literal_address(host)
        try:
            found = [str(literal)] if literal is not None else await self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        if not addresses:
            raise httpcore.ConnectError(f"{host!r} resolved to no address")
        refused = [a for a in addresses if not self._policy(a, port)]
        if refused:
            # Every address must pass: a name with one public and one internal address would
            # otherwise reach the internal one whenever the resolver orders it first.
            raise httpcore.ConnectError(f"{_REFUSED} {host!r} resolves to {refused[0]}")
        return await self._inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    *, policy: AddressPolicy = _default_policy, resolve: Resolver = _system_resolve
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go only to addresses ``policy`` allows.

    TLS still verifies the certificate against the URL's host name (httpcore passes the origin
    host as SNI/server name; only the TCP connect uses the checked address). Proxies from the
    environment are ignored (``trust_env=False``): a proxy would make the checked address moot.
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx exposes no network_backend argument; the pool it built reads this attribute per connect.
    transport._pool._network_backend = GuardedNetworkBackend(policy=policy, resolve=resolve)
    return transport
