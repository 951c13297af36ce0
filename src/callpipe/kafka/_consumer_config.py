"""librdkafka consumer properties for stage runners: manual offsets, at-least-once.

Auto commit and auto offset store are both off: the runner alone decides which offsets are
committed (the highest contiguous finished offset per partition), so a crash can only cause
re-deliveries, never a skipped call.
"""

from __future__ import annotations

from typing import Any

from callpipe.kafka._client_logs import KafkaClientLogger
from callpipe.settings import KafkaSettings, RunnerSettings

__all__ = ["consumer_config", "group_id_for"]


def group_id_for(stage_name: str, prefix: str = "callpipe") -> str:
    """Consumer group of a stage; every instance of one stage shares it."""
    return f"{prefix}-{stage_name}"


def consumer_config(
    kafka: KafkaSettings,
    stage_name: str,
    overrides: dict[str, Any] | None = None,
    runner: RunnerSettings | None = None,
) -> dict[str, Any]:
    runner = runner or RunnerSettings.model_construct()
    config: dict[str, Any] = {
        **kafka.common_config(),
        "client.id": f"{kafka.client_id}-{stage_name}",
        "group.id": group_id_for(stage_name, runner.group_prefix),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # A new group starts at the beginning: recordings published before the first transcriber
        # started must still be processed.
        "auto.offset.reset": "earliest",
        # Slow calls (an LLM, a long transcription) hold a slot, not the poll loop: the runner
        # keeps polling while partitions are paused, so the default poll interval is ample.
        "max.poll.interval.ms": 300_000,
        "session.timeout.ms": runner.session_timeout_ms,
        # A record on a partition that is not in the fetch request in flight waits for that
        # long-poll to end (librdkafka keeps one fetch per broker). With the default 500 ms,
        # one record in three reached a stage 1.0-1.6 s late on a 6-partition topic (0.03 s on
        # one partition); at 100 ms every record arrived within 0.07 s. The cost is up to ten
        # empty fetches a second per idle consumer.
        "fetch.wait.max.ms": 100,
        # Only the runner reacts to partition EOF; it does not need the events.
        "enable.partition.eof": False,
        # librdkafka's own log lines go through Python logging (JSON, with the stage), served by
        # the runner's consume calls, instead of raw ``%3|…|FAIL|…`` lines on stderr.
        "logger": KafkaClientLogger("consumer", stage_name),
    }
    if runner.instance_id:
        config["group.instance.id"] = f"{runner.instance_id}-{stage_name}"
    config.update(overrides or {})
    return config
