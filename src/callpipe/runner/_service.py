"""run_stage: the one way a consumer service runs (transcriber, analyzer, sink).

    settings from the environment → registry → the service builds its stage → its topics are
    created → StageRunner (+ the service's companions) until SIGTERM/SIGINT → drain and close.

What differs per service is only its builder: an async context manager that receives the
:class:`StageEnvironment` and yields a :class:`StagePlan` (the stage, the extra topics it needs,
consumer overrides, companions such as the sink's insights API); its exit closes what it opened.
Per-service runner defaults are declared by the service's ``RunnerSettings`` subclass, which
is what the configuration table (docs/configuration.md) documents. Logs are JSON lines
(``configure_logging``); ``/metrics`` and ``/healthz`` are served by the runner when
``RUNNER_METRICS_PORT`` is set.

``clients`` replaces the librdkafka consumer, producer and admin client (as httpx takes a
transport), so a test runs the whole wiring against fakes without monkeypatching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from callpipe.avro import SchemaRegistry, registry_from_settings
from callpipe.kafka import KafkaClients, ensure_topics
from callpipe.observability import configure_logging
from callpipe.runner._runner import StageRunner
from callpipe.runner._stage import BatchStage, MessageStage
from callpipe.settings import KafkaSettings, RunnerSettings, SchemaRegistrySettings, TopicSettings

__all__ = [
    "Companion",
    "StageBuilder",
    "StageEnvironment",
    "StagePlan",
    "StageSettings",
    "run_stage",
    "serve_stage",
]

_log = logging.getLogger("callpipe.runner")


@dataclass(frozen=True)
class StageSettings:
    """The settings every consumer stage reads; ``runner`` is the service's own subclass."""

    kafka: KafkaSettings
    topics: TopicSettings
    runner: RunnerSettings
    registry: SchemaRegistrySettings

    @classmethod
    def from_environment(cls, runner: type[RunnerSettings] = RunnerSettings) -> StageSettings:
        return cls(KafkaSettings(), TopicSettings(), runner(), SchemaRegistrySettings())


@dataclass(frozen=True)
class StageEnvironment:
    """What a service's builder receives: settings, the schema registry, the Kafka client
    factories (for a companion's own consumer), and the stop signal."""

    settings: StageSettings
    registry: SchemaRegistry
    clients: KafkaClients
    # Set on SIGTERM/SIGINT: a builder still waiting for a dependency gives up and yields None.
    stopping: asyncio.Event

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    @property
    def topics(self) -> TopicSettings:
        return self.settings.topics

    @property
    def runner(self) -> RunnerSettings:
        return self.settings.runner


class Companion(Protocol):
    """Work that lives and dies with the stage in one process (the sink's API, its events reader)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class StagePlan:
    """What a builder hands run_stage: the stage and what else its process runs and needs."""

    stage: MessageStage[Any, Any] | BatchStage[Any]
    # Topics beyond the stage's input, output and dead-letter topic (created the same way).
    extra_topics: tuple[str, ...] = ()
    consumer_overrides: Mapping[str, Any] | None = None
    # Name → companion; when any part ends (crash or stop), the others are stopped too.
    companions: Mapping[str, Companion] = field(default_factory=dict)

    def topics(self, topics: TopicSettings) -> list[str]:
        """Every topic this stage reads or writes: a fresh cluster (or a new prefix) has none yet,
        and subscribing to a missing input topic only logs errors forever."""
        names = [self.stage.input_topic, topics.dead_letter(self.stage.name), *self.extra_topics]
        if isinstance(self.stage, MessageStage) and self.stage.output_topic is not None:
            names.append(self.stage.output_topic)
        return names


# Yields None when it stopped before the stage was ready (SIGTERM while waiting for a dependency).
StageBuilder = Callable[[StageEnvironment], AbstractAsyncContextManager[StagePlan | None]]


async def serve_stage(
    build: StageBuilder,
    *,
    settings: StageSettings | None = None,
    runner_settings: type[RunnerSettings] = RunnerSettings,
    clients: KafkaClients | None = None,
    install_signal_handlers: bool = True,
    stopping: asyncio.Event | None = None,
) -> None:
    """Run one consumer stage until stopped; raises the failure of the part that failed.

    ``settings`` defaults to the environment (with ``runner_settings`` as the runner's class);
    ``stopping`` lets an embedding caller (a test) stop the stage by setting it.
    """
    settings = settings or StageSettings.from_environment(runner_settings)
    clients = clients or KafkaClients()
    stopping = stopping or asyncio.Event()
    parts: list[Companion] = []

    def stop() -> None:
        stopping.set()
        for part in parts:
            part.stop()

    loop = asyncio.get_running_loop()
    signals = _add_signal_handlers(loop, stop) if install_signal_handlers else []
    try:
        env = StageEnvironment(settings, registry_from_settings(settings.registry), clients, stopping)
        async with build(env) as plan:
            if plan is None or stopping.is_set():
                return
            stage = plan.stage
            await asyncio.to_thread(
                ensure_topics, settings.kafka, plan.topics(settings.topics), admin_factory=clients.admin
            )
            runner = StageRunner(
                stage,
                kafka=settings.kafka,
                runner=settings.runner,
                dead_letter_topic=settings.topics.dead_letter(stage.name),
                consumer_overrides=dict(plan.consumer_overrides or {}),
                install_signal_handlers=False,
                clients=clients,
            )
            named: dict[str, Companion] = {f"{stage.name}-runner": runner, **plan.companions}
            parts.extend(named.values())
            tasks = [asyncio.create_task(part.run(), name=name) for name, part in named.items()]
            stopped = asyncio.create_task(stopping.wait(), name="stopping")
            await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
            # When one part ends (crash or stop), stop the others so the process exits as a whole.
            stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            stopped.cancel()
            failures = [(t.get_name(), t.exception()) for t in tasks if not t.cancelled()]
            failed = [(name, exc) for name, exc in failures if exc is not None]
            for name, exc in failed[1:]:
                _log.error("stage part failed too", exc_info=exc, extra={"part": name})
            if failed:
                name, exc = failed[0]
                _log.error("stage part failed", extra={"part": name, "error": repr(exc)})
                raise exc
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def run_stage(
    service: str,
    build: StageBuilder,
    *,
    runner_settings: type[RunnerSettings] = RunnerSettings,
    clients: KafkaClients | None = None,
) -> int:
    """A service's ``main``: JSON logs, settings from the environment, the stage until SIGTERM.

    Returns the process exit status: 0 after a clean stop, 1 when a part failed (so the
    supervisor restarts it; the failure is logged with its traceback).
    """
    configure_logging(service)
    try:
        asyncio.run(serve_stage(build, runner_settings=runner_settings, clients=clients))
    except Exception:  # noqa: BLE001 - any failure ends the process non-zero, logged with its traceback
        _log.exception("stage stopped by a failure", extra={"service": service})
        return 1
    return 0


def _add_signal_handlers(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> list[signal.Signals]:
    added: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop)
            added.append(sig)
    return added
