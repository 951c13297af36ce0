"""Errors of the local development servers (``callpipe_tools.local``).

::

    CallpipeError
    └── LocalInfraError          root of this package's errors
        ├── FetchError           Maven could not fetch or unpack an artifact (``.output``)
        └── ServerStartError     a server did not become ready in time (``.log_tail``)

They derive from ``CallpipeError`` so the project keeps one root, but nothing in the stage runner
ever sees them: they are raised at fixture/CLI set-up time only.
"""

from __future__ import annotations

from callpipe.errors import CallpipeError

__all__ = ["FetchError", "LocalInfraError", "ServerStartError"]


class LocalInfraError(CallpipeError):
    """Root of the errors raised while fetching, starting or stopping a local server."""


class FetchError(LocalInfraError):
    """``mvn`` failed; ``output`` holds the tail of what it printed."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(f"{message}\n--- mvn output (tail) ---\n{output}" if output else message)
        self.output = output


class ServerStartError(LocalInfraError):
    """A server exited or did not answer in time; ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        super().__init__(f"{message}\n--- server log (tail) ---\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail
