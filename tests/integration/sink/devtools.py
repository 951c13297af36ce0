"""Headless Chromium driven over the DevTools protocol, for page tests that click.

``--dump-dom`` can only read a page back; a click on a category's evidence or on an alert's
sample call needs a live page. Chromium listens on 127.0.0.1 only (a port it picks); the page
runs in real time (no virtual-time budget), so waits poll the DOM until a condition holds.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect


class LivePage:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = count(1)

    def call(self, method: str, **params: object) -> dict[str, Any]:
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == message_id:
                assert "error" not in reply, reply["error"]
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression, run as if from a user gesture (so a .click()
        on a button may start audio playback like a real click)."""
        answer = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
            userGesture=True,
        )
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return (answer.get("result") or {}).get("value")

    def wait_for(self, expression: str, timeout_s: float = 90.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression!r}"
            time.sleep(0.1)

    def open(self, url: str) -> None:
        """Navigate and wait until the page marks itself ready (or failed)."""
        self.call("Page.navigate", url=url)
        time.sleep(0.2)  # let the old document go before probing the new one
        state = self.wait_for(
            "document.readyState === 'complete' && document.body && "
            "['ready', 'error', 'needs-token'].includes(document.body.dataset.state) "
            "&& document.body.dataset.state"
        )
        assert state == "ready", (state, self.evaluate("document.getElementById('status').textContent"))

    def screenshot(self, path: Path) -> None:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextmanager
def live_page(chromium: str, profile: Path, height: int = 2000) -> Iterator[LivePage]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
        f"--window-size=1400,{height}", "--autoplay-policy=no-user-gesture-required",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
    ]  # fmt: skip
    browser = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    drain: threading.Thread | None = None
    try:
        assert browser.stderr is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None:
            assert time.monotonic() < deadline and browser.poll() is None, "chromium gave no DevTools port"
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", browser.stderr.readline())
            port = int(found.group(1)) if found else None
        # Keep draining its log so a chatty Chromium never blocks on a full pipe.
        drain = threading.Thread(target=browser.stderr.read, daemon=True)
        drain.start()
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        target = next(t for t in targets if t.get("type") == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            yield LivePage(ws)
    finally:
        browser.kill()
        browser.wait(10)
        if drain is not None:
            drain.join(10)
        if browser.stderr is not None:
            browser.stderr.close()
