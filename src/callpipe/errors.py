"""The one exception tree of callpipe. The class of an error decides what the stage runner does.

::

    CallpipeError                      root; never raised itself
    ├── PermanentError                 → dead-letter at once (retrying cannot help)
    │   ├── PoisonMessageError         the input bytes cannot be decoded / fail the contract
    │   ├── InvalidInputError          decoded, but unusable (corrupt audio, bad URL, too large…)
    │   └── InvalidOutputError         a dependency answered with something unusable after repair
    ├── TransientError                 → retry with backoff + jitter, up to the stage's max
    │   │                                attempts, then dead-letter with the last reason
    │   └── RateLimitedError           the dependency said "slow down" (HTTP 429); honours
    │                                    ``retry_after``
    ├── DependencyUnavailableError     → retry forever with backoff while the partition is paused;
    │                                    nothing is committed (ClickHouse down, broker down…)
    └── BackpressureError              → pause the partitions for ``retry_after`` seconds, then
                                         retry the same work (a sink's buffer is full, …)

Adapters translate SDK errors into these classes; stages never catch broad exceptions. An
exception that is not a ``CallpipeError`` is a bug: the runner treats it as transient (so a
flaky bug cannot silently drop a call) and dead-letters after the attempts run out.
"""

from __future__ import annotations

__all__ = [
    "BackpressureError",
    "CallpipeError",
    "DependencyUnavailableError",
    "InvalidInputError",
    "InvalidOutputError",
    "PermanentError",
    "PoisonMessageError",
    "RateLimitedError",
    "TransientError",
]


class CallpipeError(Exception):
    """Root of every error callpipe raises on purpose."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Seconds the dependency asked us to wait (Retry-After), when it said so.
        self.retry_after = retry_after

    @property
    def reason(self) -> str:
        """One line for dead-letter headers and logs: class name and message."""
        return f"{type(self).__name__}: {self.message}"


class PermanentError(CallpipeError):
    """Retrying cannot help: the message goes to the dead-letter topic with this reason."""


class PoisonMessageError(PermanentError):
    """The message bytes cannot be decoded, or they break the Avro contract."""


class InvalidInputError(PermanentError):
    """The message decoded, but what it describes cannot be processed (e.g. undecodable audio)."""


class InvalidOutputError(PermanentError):
    """A dependency kept answering with output that fails validation (after the repair attempt)."""


class TransientError(CallpipeError):
    """May succeed later: retried with backoff, dead-lettered after the configured attempts."""


class RateLimitedError(TransientError):
    """The dependency throttled us (HTTP 429 or equivalent)."""


class DependencyUnavailableError(CallpipeError):
    """A dependency the stage cannot work without is down: retry forever, commit nothing."""


class BackpressureError(CallpipeError):
    """The stage cannot take more work right now: pause consumption for ``retry_after`` seconds."""
