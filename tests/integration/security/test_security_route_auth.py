"""Every route of ingest and insights is found from the app itself and must refuse a request
without a valid token, unless it is on a short, reasoned list of open routes.

A hand-written list of paths misses what was added after it (issue 16's audit found seven read
routes missing); walking the app's routes (``fastapi.routing.iter_route_contexts`` also descends
into included routers, which plain ``app.routes`` shows as one opaque entry) means a new data
route is tested the moment it exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import LocalSchemaRegistry
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app as create_ingest_app
from callpipe_sink.insights import create_app as create_insights_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from tests.integration.security.conftest import SEED_END, TOKEN
from tests.unit.ingest.ingest_support import API_TOKEN, BASE, MemorySender, make_settings

ADMIN_TOKEN = "security-admin-0123456789abcdef"

# Open on purpose, each with its reason; anything else must answer 401 without a token.
INGEST_OPEN = {
    ("GET", "/healthz"): "liveness probe, no data",
    ("GET", "/readyz"): "readiness probe: broker reachable or not, no data",
    ("GET", "/metrics"): "Prometheus scrape: counters only, no call data or labels from callers",
}
# Twilio cannot send a bearer token: these are authenticated by X-Twilio-Signature (403 without).
INGEST_TWILIO = {("POST", "/twilio/voice"), ("POST", "/twilio/consent"), ("POST", "/twilio/recording-status")}
INSIGHTS_OPEN = {
    ("GET", "/"): "the dashboard page itself; it asks for the token and sends it on every data call",
    ("GET", "/healthz"): "liveness probe: warehouse reachable or not, no data",
}


def http_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, included routers and their prefixes too; mounts
    (the dashboard's static files) and HEAD are left out."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        methods = route.methods
        if route.path is None or methods is None:
            continue  # a Mount (/static): files, no data
        found.update((method, route.path) for method in methods if method != "HEAD")
    return sorted(found)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "probe-1", path)


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("route-auth")

    async def ready() -> str | None:
        return None

    app = create_ingest_app(
        make_settings(),
        MemorySender(),
        LocalRecordingStore(tmp / "rec"),
        registry=LocalSchemaRegistry.from_directory(),
        readiness=ready,
    )
    with TestClient(app, base_url=BASE) as client:
        yield client


@pytest.fixture(scope="module")
def insights(warehouse: Warehouse) -> Iterator[TestClient]:
    settings = InsightsSettings(token=SecretStr(TOKEN), admin_token=SecretStr(ADMIN_TOKEN))
    with TestClient(create_insights_app(warehouse, settings, clock=lambda: SEED_END)) as client:
        yield client


def test_the_walk_finds_the_routes_behind_included_routers(ingest: TestClient, insights: TestClient) -> None:
    """A control: if the walk stopped seeing included routers, the tests below would pass empty."""
    ingest_routes = http_routes(ingest.app)  # type: ignore[arg-type]
    insights_routes = http_routes(insights.app)  # type: ignore[arg-type]
    assert {("POST", "/recordings"), ("POST", "/transcripts"), ("POST", "/twilio/voice")} <= set(
        ingest_routes
    )
    assert {
        ("POST", "/admin/erase"),
        ("POST", "/admin/reprocess"),
        ("GET", "/admin/reprocess/{job_id}"),
        ("GET", "/calls/{call_id}/status"),
        ("GET", "/calls/{call_id}/audio"),
        ("GET", "/failures"),
        ("GET", "/calls.csv"),
    } <= set(insights_routes)
    assert set(INGEST_OPEN) | INGEST_TWILIO <= set(ingest_routes)
    assert set(INSIGHTS_OPEN) <= set(insights_routes)


def _closed(routes: list[tuple[str, str]], *open_sets: object) -> list[tuple[str, str]]:
    return [r for r in routes if not any(r in s for s in open_sets)]  # type: ignore[operator]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", "Basic eDp5"])
def test_every_ingest_data_route_refuses_a_request_without_the_upload_token(
    ingest: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answers = {
        (method, path): ingest.request(method, concrete(path), headers=headers).status_code
        for method, path in _closed(http_routes(ingest.app), INGEST_OPEN, INGEST_TWILIO)  # type: ignore[arg-type]
    }
    assert answers, "no closed ingest route found"
    assert answers == dict.fromkeys(answers, 401)


def test_twilio_routes_refuse_an_unsigned_request(ingest: TestClient) -> None:
    upload_token = {"Authorization": f"Bearer {API_TOKEN}"}  # a bearer token is no signature
    answers = {(m, p): ingest.request(m, p, data={"CallSid": "CA1"}, headers=upload_token).status_code
               for m, p in sorted(INGEST_TWILIO)}  # fmt: skip
    assert answers == dict.fromkeys(INGEST_TWILIO, 403)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}"])
def test_every_insights_data_route_refuses_a_request_without_a_token(
    insights: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answers = {
        (method, path): insights.request(method, concrete(path), headers=headers).status_code
        for method, path in _closed(http_routes(insights.app), INSIGHTS_OPEN)  # type: ignore[arg-type]
    }
    assert len(answers) >= 15, answers
    assert answers == dict.fromkeys(answers, 401)


def test_admin_routes_refuse_the_read_token_and_read_routes_the_admin_token(insights: TestClient) -> None:
    """Scopes hold on every route: admin is not a superset of read, read cannot administer."""
    closed = _closed(http_routes(insights.app), INSIGHTS_OPEN)  # type: ignore[arg-type]
    answers = {}
    for method, path in closed:
        other = TOKEN if path.startswith("/admin/") else ADMIN_TOKEN
        answers[(method, path)] = insights.request(
            method, concrete(path), headers={"Authorization": f"Bearer {other}"}
        ).status_code
    assert any(path.startswith("/admin/") for _, path in answers)
    assert answers == dict.fromkeys(answers, 403)


def _scope_table() -> dict[str, set[tuple[str, str]]]:
    """docs/security.md "Tokens and scopes": scope → the `METHOD /path` entries of its row."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text()
    table: dict[str, set[tuple[str, str]]] = {}
    for scope in ("upload", "read", "admin"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {scope} |"))
        endpoints = row.split("|")[3]
        table[scope] = {(m, p) for m, p in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`", endpoints)}
    return table


def test_the_documented_scope_table_lists_exactly_the_served_routes(
    ingest: TestClient, insights: TestClient
) -> None:
    """Was: the table named one admin route of three and nine read routes of fourteen."""
    table = _scope_table()
    insights_closed = set(_closed(http_routes(insights.app), INSIGHTS_OPEN))  # type: ignore[arg-type]
    assert table["upload"] == set(_closed(http_routes(ingest.app), INGEST_OPEN, INGEST_TWILIO))  # type: ignore[arg-type]
    assert table["admin"] == {r for r in insights_closed if r[1].startswith("/admin/")}
    assert table["read"] == {r for r in insights_closed if not r[1].startswith("/admin/")}
