"""A stage run as its own process, for the SIGKILL / SIGTERM tests.

    python stage_process.py BOOTSTRAP STAGE INPUT OUTPUT WORK_S CONCURRENCY

Each message's work is ``sleep(WORK_S)``; the output repeats the input's key and value. It logs
JSON lines to stderr and exits 0 after a graceful SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys

from callpipe.observability import configure_logging
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings


def main() -> None:
    bootstrap, stage_name, source, sink, work_s, concurrency = sys.argv[1:7]
    configure_logging(stage_name, "INFO")

    async def work(value: bytes) -> bytes:
        await asyncio.sleep(float(work_s))
        return value

    stage: MessageStage[bytes, bytes] = MessageStage(
        name=stage_name,
        input_topic=source,
        decode=lambda raw: raw,
        process=work,
        output_topic=sink,
        encode=lambda value: value,
        key=lambda value: value.decode(),
    )
    runner = StageRunner(
        stage,
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        dead_letter_topic=f"callpipe.dlq.{stage_name}",
        runner=RunnerSettings(max_in_flight=int(concurrency), commit_interval_s=0.5, drain_timeout_s=20),
    )
    asyncio.run(runner.run())


if __name__ == "__main__":
    main()
