"""A fault-injecting HTTP harness for the adapters of paid APIs (LLM, speech-to-text).

It sits where the network would be — an ``httpx`` transport handed to the adapter's client —
and answers each request either with a scripted fault or with the upstream handler's answer
(a fake of the API that returns bodies shaped exactly as the provider documents them)::

    injector = FaultInjector(upstream=openai_completion, key=call_marker,
                             plan={"call-3": [Fault.rate_limited(2), Fault.server_error()]})
    client = httpx.AsyncClient(transport=injector.transport())

The plan is per key (what identifies one call in a request, e.g. a marker in the transcript):
the n-th request for a key gets the n-th fault of its list and the upstream answer after the list
ran out; ``Fault.always(...)`` repeats one fault forever (a call that can never succeed). Every
request is recorded in ``injector.log`` so tests can check how many attempts each call took.

Faults modelled (what providers and proxies really do):
- ``rate_limited(retry_after)``: 429 with ``Retry-After`` and the provider's error body;
- ``server_error(status)``: 500/502/503 with an error body;
- ``timeout()``: the read times out (``httpx.ReadTimeout``, what the client raises);
- ``truncated()``: 200 whose JSON body is cut in half (a proxy closing early, Content-Length of
  the cut body, so only the JSON parser notices);
- ``disconnect()``: 200 whose body stream breaks half way (``httpx.RemoteProtocolError``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

__all__ = ["Fault", "FaultInjector", "Upstream"]

Upstream = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 200
    retry_after: float | None = None
    repeat: bool = False

    @staticmethod
    def rate_limited(retry_after: float = 1.0) -> Fault:
        return Fault("rate_limited", 429, retry_after)

    @staticmethod
    def server_error(status: int = 500) -> Fault:
        return Fault("server_error", status)

    @staticmethod
    def timeout() -> Fault:
        return Fault("timeout")

    @staticmethod
    def truncated() -> Fault:
        return Fault("truncated")

    @staticmethod
    def disconnect() -> Fault:
        return Fault("disconnect")

    @staticmethod
    def always(fault: Fault) -> Fault:
        """The same fault on every request of the key, however many times it is retried."""
        return Fault(fault.kind, fault.status, fault.retry_after, repeat=True)


class _BrokenStream(httpx.AsyncByteStream):
    """Yields the first half of the body, then fails like a connection reset mid-body."""

    def __init__(self, head: bytes) -> None:
        self._head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._head
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


@dataclass
class FaultInjector:
    upstream: Upstream
    key: Callable[[httpx.Request], str] = field(default=lambda request: request.url.path)
    plan: Mapping[str, Sequence[Fault]] = field(default_factory=dict)
    log: list[tuple[str, int, str]] = field(default_factory=list)  # (key, attempt, fault or "ok")
    _seen: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attempts(self, key: str) -> int:
        return sum(1 for k, _, _ in self.log if k == key)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _next_fault(self, key: str) -> tuple[int, Fault | None]:
        with self._lock:
            attempt = self._seen.get(key, 0) + 1
            self._seen[key] = attempt
        faults = self.plan.get(key, ())
        if faults and faults[-1].repeat and attempt > len(faults):
            return attempt, faults[-1]
        return attempt, faults[attempt - 1] if attempt <= len(faults) else None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        key = self.key(request)
        attempt, fault = self._next_fault(key)
        self.log.append((key, attempt, fault.kind if fault else "ok"))
        if fault is None:
            return await self._upstream(request)
        if fault.kind == "timeout":
            raise httpx.ReadTimeout("injected read timeout", request=request)
        if fault.kind in ("rate_limited", "server_error"):
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            error = {"error": {"message": f"injected {fault.kind}", "type": fault.kind, "code": fault.status}}
            return httpx.Response(fault.status, json=error, headers=headers, request=request)
        good = await self._upstream(request)
        body = good.content
        if fault.kind == "truncated":
            cut = body[: max(1, len(body) // 2)]
            return httpx.Response(200, content=cut, headers=_json_headers(), request=request)
        if fault.kind == "disconnect":
            return httpx.Response(
                200, stream=_BrokenStream(body[: len(body) // 2]), headers=_json_headers(), request=request
            )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    async def _upstream(self, request: httpx.Request) -> httpx.Response:
        answer = self.upstream(request)
        if isinstance(answer, httpx.Response):
            return answer
        return await answer


def _json_headers() -> dict[str, str]:
    return {"content-type": "application/json"}


def json_body(request: httpx.Request) -> object:
    """The JSON a client sent (for ``key`` functions)."""
    return json.loads(request.content or b"null")
