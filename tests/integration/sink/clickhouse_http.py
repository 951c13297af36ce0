"""A ClickHouse HTTP front for chdb: TEST INFRASTRUCTURE, not a ClickHouse server.

No ClickHouse server is installable on our build machines (Debian ships 18.16, which
clickhouse-connect cannot talk to; nothing on PyPI, npm or Maven ships a server). The engine we
do have is chdb (ClickHouse 26.9, in-process), so this module serves, on 127.0.0.1, the subset of
ClickHouse's HTTP interface (https://clickhouse.com/docs/interfaces/http) that clickhouse-connect
1.12 uses for ``get_client(dsn=…)``, ``command``, ``query``, ``raw_insert`` and ``insert``, and
runs each statement on chdb. Tests use it to drive the sink in SERVER mode (``CLICKHOUSE_URL``)
and to take ClickHouse away for real (kill this process: connections are refused). Production
uses a real ClickHouse server; nothing in ``services/`` imports this module.

    python -m tests.integration.sink.clickhouse_http --path DIR --port P

What it implements, and how:

- ``GET /ping`` → ``Ok.``; ``GET|POST /`` runs one statement. The SQL is the ``query`` URL
  parameter followed by the body (ClickHouse concatenates them), or the body alone. For
  ``INSERT … FORMAT X`` followed by data, the data (after the newline) is written to a temp file
  and run as ``INSERT … FROM INFILE '…' FORMAT X``, which is how clickhouse-connect's own chdb
  backend inserts too. ``Transfer-Encoding: chunked`` and a ``Content-Encoding`` of the request
  body (gzip, deflate, zstd, lz4, br, as clickhouse-connect writes them) are decoded.
- Each request gets a fresh chdb connection handle (handles are cheap, ~4 ms, and their
  ``SET``/``USE`` state is per handle, like a query context on a server): ``USE database``,
  ``SET`` of every URL parameter that is a setting (HTTP transport parameters such as
  ``enable_http_compression`` or ``wait_end_of_query`` are consumed here), ``readonly=2`` for
  GET as on a server, ``param_*`` bound as query parameters. With ``session_id`` the handle is
  kept for the session (``session_timeout``, ``session_check``; a concurrent request on a
  locked session gets SESSION_IS_LOCKED). Deviation: in a session, URL settings persist.
- Output: chdb's bytes in the statement's ``FORMAT`` or ``default_format`` (TabSeparated).
  Replies are never compressed (no ``Content-Encoding``), which every client must accept.
  Headers: ``X-ClickHouse-Query-Id``, ``-Summary`` (rows/bytes read and written, elapsed),
  ``-Timezone``, ``-Server-Display-Name``, and ``-Format`` for result-producing statements.
- Errors: chdb's ``Code: N. DB::Exception: … (NAME)`` text plus a version trailer as the body,
  ``X-ClickHouse-Exception-Code: N``, and the HTTP status ClickHouse's
  ``src/Server/HTTP/exceptionCodeToHTTPStatus.cpp`` gives that error (mapped by name below).
- ``--password``: when given, requests must authenticate as ``--user`` (Basic auth,
  ``X-ClickHouse-User``/``-Key`` headers or ``user``/``password`` parameters), else
  AUTHENTICATION_FAILED (516, HTTP 403).

Every chdb call is serialized under one lock (a test server errs on the safe side about
concurrent use of one engine from threads); the HTTP side is threaded so kept-alive
connections do not block each other.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

__all__ = ["FrontError", "serve"]

# URL parameters the HTTP layer consumes; every other non-``param_`` parameter is a setting.
_TRANSPORT_PARAMS = frozenset(
    {
        "query", "database", "default_format", "session_id", "session_timeout", "session_check",
        "query_id", "user", "password", "quota_key", "compress", "decompress", "buffer_size",
        "wait_end_of_query", "client_protocol_version", "role", "enable_http_compression",
        "http_zlib_compression_level", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
        "http_wait_end_of_query", "http_response_buffer_size", "add_http_cors_header",
    }
)  # fmt: skip
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ``INSERT INTO … FORMAT Name`` then a newline: what follows is data, not SQL.
_INSERT_WITH_DATA = re.compile(
    rb"^(\s*INSERT\s+INTO\s.*?)\s+FORMAT\s+([A-Za-z0-9_]+)[ \t]*\r?\n", re.I | re.S
)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.I)
_RESULT_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "(")
_COMMENT = re.compile(r"^\s*(?:--[^\n]*\n|/\*.*?\*/)", re.S)
_CODE = re.compile(r"Code:\s*(\d+)")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")

# ClickHouse's exceptionCodeToHTTPStatus (26.x), keyed by error name; anything else is 500.
_HTTP_STATUS_BY_NAME: dict[str, int] = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        ["UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"],
        403,
    ),
    **dict.fromkeys(
        [
            "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST",
            "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ],
        400,
    ),
    **dict.fromkeys(
        [
            "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE",
        ],
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    **dict.fromkeys(["SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"], 503),
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}  # fmt: skip


class FrontError(Exception):
    """An error raised by the front itself, shaped like a ClickHouse exception."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")


@dataclass
class _Session:
    conn: Any
    timeout_s: float
    last_used: float = field(default_factory=time.monotonic)
    busy: bool = False


@dataclass
class _Outcome:
    body: bytes
    summary: dict[str, str]
    fmt: str | None  # set for result-producing statements (X-ClickHouse-Format)


class ChdbFront:
    """The engine side: one chdb engine (directory), statements run one at a time."""

    def __init__(self, path: str, *, user: str = "default", password: str | None = None) -> None:
        self.path = path
        self.user = user
        self.password = password
        # The first handle opens the engine (and takes chdb's directory lock) for our lifetime.
        self._base = chdb.connect(path)
        self._lock = threading.Lock()
        version, tz = (
            self._base.query("SELECT version(), timezone()", "TabSeparated").bytes().decode().split("\t")
        )
        self.version = version.strip()
        self.timezone = tz.strip()
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        # Insert data files live next to the data directory (a test's tmp_path), not in /tmp:
        # a SIGKILLed front leaves at most this empty folder behind, where pytest cleans up.
        self._tmp = tempfile.mkdtemp(prefix="chfront-", dir=os.path.dirname(os.path.abspath(path)))

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.conn.close()
            self._sessions.clear()
            self._base.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- one request ------------------------------------------------------------------------

    def execute(self, params: dict[str, str], body: bytes, *, readonly: bool) -> _Outcome:
        sql, data, fmt_of_data = self._split(params.get("query"), body)
        settings = {
            k: v for k, v in params.items() if k not in _TRANSPORT_PARAMS and not k.startswith("param_")
        }
        bound = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
        for key in settings:
            if not _SETTING_NAME.match(key):
                raise FrontError(115, "UNKNOWN_SETTING", f"Unknown setting '{key}'")
        if readonly:
            settings["readonly"] = "2"  # a GET request may only read, as on a server
        default_format = params.get("default_format", "TabSeparated")
        infile: str | None = None
        if data is not None:
            # The data goes through a file: chdb takes SQL text, and INFILE reads any format.
            fd, infile = tempfile.mkstemp(dir=self._tmp, suffix=".data")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            sql = f"{sql} FROM INFILE '{infile}' FORMAT {fmt_of_data}"
        # A session is claimed before the engine lock, so a concurrent request on the same
        # session is refused (as on a server) instead of queueing behind it.
        session = self._acquire(params["session_id"], params) if params.get("session_id") else None
        try:
            with self._lock:
                conn = session.conn if session is not None else chdb.connect(self.path)
                try:
                    database = params.get("database")
                    if database:
                        conn.query(f"USE `{database.replace('`', '')}`", "TabSeparated")
                    for key, value in settings.items():
                        literal = value.replace("\\", "\\\\").replace("'", "\\'")
                        conn.query(f"SET {key} = '{literal}'", "TabSeparated")
                    started = time.perf_counter()
                    result = conn.query(sql, default_format, params=bound)
                    elapsed = time.perf_counter() - started
                finally:
                    if session is None:
                        conn.close()
        finally:
            if session is not None:
                session.busy = False
                session.last_used = time.monotonic()
            if infile is not None:
                os.unlink(infile)
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": str(result.rows_written()),
            "written_bytes": str(result.bytes_written()),
            "total_rows_to_read": "0",
            "result_rows": "0",
            "result_bytes": str(len(result.bytes() or b"")),
            "elapsed_ns": str(int(elapsed * 1e9)),
        }
        stripped = sql
        while (match := _COMMENT.match(stripped)) is not None:
            stripped = stripped[match.end() :]
        producing = stripped.lstrip().upper().startswith(_RESULT_STATEMENTS)
        trailing = _TRAILING_FORMAT.search(sql)
        fmt = (trailing.group(1) if trailing else default_format) if producing else None
        return _Outcome(result.bytes() or b"", summary, fmt)

    @staticmethod
    def _split(query_param: str | None, body: bytes) -> tuple[str, bytes | None, str | None]:
        """SQL text, and the data of an ``INSERT … FORMAT X`` with its format."""
        full = body if query_param is None else (query_param.encode() + (b"\n" + body if body else b""))
        if not full.strip():
            raise FrontError(62, "SYNTAX_ERROR", "Empty query")
        match = _INSERT_WITH_DATA.match(full)
        if match is not None and full[match.end() :]:
            return match.group(1).decode(), full[match.end() :], match.group(2).decode()
        try:
            return full.decode(), None, None
        except UnicodeDecodeError as exc:
            raise FrontError(62, "SYNTAX_ERROR", f"Query is not valid UTF-8: {exc}") from exc

    # -- sessions ---------------------------------------------------------------------------

    def _acquire(self, session_id: str, params: dict[str, str]) -> _Session:
        with self._sessions_lock:
            now = time.monotonic()
            for key, old in list(self._sessions.items()):
                if not old.busy and now - old.last_used > old.timeout_s:
                    old.conn.close()
                    del self._sessions[key]
            session = self._sessions.get(session_id)
            if session is None:
                if params.get("session_check") == "1":
                    raise FrontError(372, "SESSION_NOT_FOUND", f"Session {session_id} not found")
                timeout = float(params.get("session_timeout", "60"))
                session = self._sessions[session_id] = _Session(chdb.connect(self.path), timeout)
            if session.busy:
                raise FrontError(
                    373, "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client"
                )
            session.busy = True
            return session

    def authenticated(self, headers: Any, params: dict[str, str]) -> bool:
        if self.password is None:
            return True
        user, password = params.get("user"), params.get("password")
        if headers.get("X-ClickHouse-User") is not None:
            user, password = headers.get("X-ClickHouse-User"), headers.get("X-ClickHouse-Key", "")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return user == self.user and password == self.password


def _decompress(data: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    # The codecs clickhouse-connect may write with come with it (lz4, zstd, brotli).
    from clickhouse_connect.driver._backend.chdb_backend import _decompress as cc_decompress

    return bytes(cc_decompress(data, encoding))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clickhouse-connect's connection pool expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the test logs; errors are printed in _fail

    def do_GET(self) -> None:
        self._handle(readonly=True)

    def do_POST(self) -> None:
        self._handle(readonly=False)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self, *, readonly: bool) -> None:
        front = self.server.front
        url = urlsplit(self.path)
        body = self._read_body() if not readonly else b""
        if url.path == "/ping":
            self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        if url.path not in ("/", ""):
            self._reply(
                404, b"There is no handle " + url.path.encode() + b"\n", {"Content-Type": "text/plain"}
            )
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        common = {
            "X-ClickHouse-Server-Display-Name": self.server.display_name,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": params.get("session_timezone") or front.timezone,
        }
        try:
            if not front.authenticated(self.headers, params):
                raise FrontError(
                    516,
                    "AUTHENTICATION_FAILED",
                    f"{front.user}: Authentication failed: password is incorrect",
                )
            if params.get("compress") == "1" or params.get("decompress") == "1":
                raise FrontError(48, "NOT_IMPLEMENTED", "ClickHouse's native block compression is not served")
            body = _decompress(body, self.headers.get("Content-Encoding", "").strip().lower())
            outcome = front.execute(params, body, readonly=readonly)
        except Exception as exc:
            self._fail(exc, common)
            return
        headers = {**common, "X-ClickHouse-Summary": json.dumps(outcome.summary, separators=(",", ":"))}
        if outcome.fmt is not None:
            headers["X-ClickHouse-Format"] = outcome.fmt
            headers["Content-Type"] = _content_type(outcome.fmt)
        else:
            headers["Content-Type"] = "text/plain; charset=UTF-8"
        self._reply(200, outcome.body, headers)

    def _fail(self, exc: Exception, headers: dict[str, str]) -> None:
        text = str(exc).strip()
        start = text.find("Code: ")
        text = (
            text[start:]
            if start >= 0
            else f"Code: 1001. DB::Exception: {type(exc).__name__}: {text}. (STD_EXCEPTION)"
        )
        code_match = _CODE.search(text)
        code = code_match.group(1) if code_match else "1001"
        names = _NAME.findall(text)
        status = _HTTP_STATUS_BY_NAME.get(names[-1], 500) if names else 500
        body = f"{text} (version {self.server.front.version} (chdb test front))\n".encode()
        print(f"clickhouse_http: {status} {text[:300]}", file=sys.stderr, flush=True)
        self._reply(
            status,
            body,
            {**headers, "X-ClickHouse-Exception-Code": code, "Content-Type": "text/plain; charset=UTF-8"},
        )

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        self.wfile.write(body)


def _content_type(fmt: str) -> str:
    lower = fmt.lower()
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if lower.startswith(("native", "rowbinary", "arrow", "parquet", "avro", "orc")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart on the same port must not wait out TIME_WAIT

    def __init__(self, address: tuple[str, int], front: ChdbFront) -> None:
        super().__init__(address, _Handler)
        self.front = front
        self.display_name = f"{socket.gethostname()}-chdb-front"


def serve(path: str, port: int, *, user: str = "default", password: str | None = None) -> None:
    """Open the chdb directory, listen on 127.0.0.1:port (0 = any free), serve until SIGTERM/SIGINT."""
    front = ChdbFront(path, user=user, password=password)
    server = _Server(("127.0.0.1", port), front)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The test reads this line to learn the port (and that the directory was opened).
    print(f"listening on 127.0.0.1:{server.server_address[1]} chdb {front.version} at {path}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        front.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", required=True, help="chdb data directory (one process at a time)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default=None, help="require this password (default: none)")
    args = parser.parse_args(argv)
    serve(args.path, args.port, user=args.user, password=args.password)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
