"""``./dev bench alerts``: a simulated stream of analyzed calls, with and without an injected spike.

Event time comes from each analysis's ``analyzed_at`` (simulated: calls spread over many 15-minute
windows), never the wall clock. The stream is steady traffic over a fixed intent mix, and the spike
adds one intent's calls to a single window. The same generator feeds the integration test that
runs the faust job against a real broker and SIGKILLs it mid-window.

Prints: alerts raised with and without the spike (rule, subject, window); the spiked stream again
as a backlog on three partitions read round-robin (partitions drift apart in event time, as after a
restart), with the calls dropped as late; and calls/s of the alert logic (Avro decode + facts +
windows), for the bundled alerts.yaml.
"""

from __future__ import annotations

import argparse
import random
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed
from callpipe_alerts.config import load_config
from callpipe_alerts.decode import WriterSchemaDecoder
from callpipe_alerts.engine import AlertEngine, new_state
from callpipe_alerts.facts import extract_facts
from callpipe_tools.examples import example_analysis

__all__ = ["SimulatedStream", "simulated_analyses"]

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC).timestamp()
BACKLOG_PARTITIONS = 3  # as the integration test's analyses topic
INTENTS = ("billing_dispute", "technical_support", "account_update", "payment", "cancel_service", "upgrade")
AGENTS = tuple(f"agent-{i:02d}" for i in range(20))


@dataclass(frozen=True)
class SimulatedStream:
    records: list[tuple[str, bytes]]  # (call id, CallAnalyzed in the Confluent wire format)
    window_s: float
    spike_window: int | None  # index from the first window
    spike_intent: str
    first_spike_record: int | None  # position of the first injected call


def simulated_analyses(
    total: int = 10_000,
    *,
    windows: int = 16,
    window_s: float = 900.0,
    spike_window: int | None = 12,
    spike_calls: int = 300,
    spike_intent: str = "cancel_service",
    seed: int = 7,
) -> SimulatedStream:
    """``total`` calls in time order over ``windows`` windows; ``spike_calls`` of them are the spike."""
    rng = random.Random(seed)
    serde = AvroSerde(CallAnalyzed, LocalSchemaRegistry.from_directory(), "analyses-value")
    template = example_analysis().model_dump(mode="python")
    template["analysis"]["escalation_risk"] = "low"
    template["analysis"]["churn_risk"] = "low"
    template["analysis"]["competitor_mentions"] = []
    steady = total - (spike_calls if spike_window is not None else 0)
    stamps = [(START + rng.uniform(0, windows * window_s), rng.choice(INTENTS)) for _ in range(steady)]
    if spike_window is not None:
        base = START + spike_window * window_s
        stamps += [(base + rng.uniform(0, window_s), spike_intent) for _ in range(spike_calls)]
    stamps.sort()
    records: list[tuple[str, bytes]] = []
    first_spike: int | None = None
    spike_start = START + (spike_window or 0) * window_s
    for i, (ts, intent) in enumerate(stamps):
        call_id = f"CA{i:032d}"
        record = {**template, "call_id": call_id, "analyzed_at": datetime.fromtimestamp(ts, tz=UTC)}
        record["analysis"] = {
            **template["analysis"],
            "intent": intent,
            "sentiment_score": round(rng.uniform(0.1, 0.5), 3),
        }
        record["metadata"] = {**template["metadata"], "agent_id": rng.choice(AGENTS)}
        if first_spike is None and spike_window is not None and ts >= spike_start:
            first_spike = i
        records.append((call_id, serde.serialize_dict(record)))
    return SimulatedStream(records, window_s, spike_window, spike_intent, first_spike)


def _read_order(stream: SimulatedStream, partitions: int) -> list[tuple[tuple[int, int], bytes]]:
    """((partition, offset), record) in the order a consumer reads them: one partition in time
    order; several (records placed by the CRC32 of their key, as librdkafka's default partitioner
    does) read round-robin, a record of each in turn, as faust reads a backlog after a restart."""
    if partitions == 1:
        return [((0, offset), data) for offset, (_, data) in enumerate(stream.records)]
    dealt: list[list[bytes]] = [[] for _ in range(partitions)]
    for key, data in stream.records:
        dealt[zlib.crc32(key.encode()) % partitions].append(data)
    longest = max(len(part) for part in dealt)
    return [
        ((partition, offset), dealt[partition][offset])
        for offset in range(longest)
        for partition in range(partitions)
        if offset < len(dealt[partition])
    ]


def _run(stream: SimulatedStream, partitions: int = 1) -> tuple[list[str], int, float]:
    """Alert lines, calls dropped as late, calls/s."""
    config = load_config()
    engine = AlertEngine(config)
    decoder = WriterSchemaDecoder(LocalSchemaRegistry.from_directory())
    state = new_state()
    alerts = []
    began = time.perf_counter()
    for source, data in _read_order(stream, partitions):
        facts = extract_facts(decoder.decode(data), config.event_time, source)
        if facts is not None:
            alerts += engine.apply(state, facts)
    alerts += engine.flush(state)
    elapsed = time.perf_counter() - began
    first_window = engine.window_index(START)
    lines = [
        f"{a.rule} {a.subject} window {engine.window_index(a.window_start.timestamp()) - first_window} "
        f"value {a.value:.0f} baseline {a.baseline or 0:.1f}"
        for a in alerts
    ]
    return lines, int(state["late"]), len(stream.records) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench alerts")
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args(argv)
    spiked = simulated_analyses(args.calls)
    quiet = simulated_analyses(args.calls, spike_window=None)
    spike_alerts, _, rate = _run(spiked)
    quiet_alerts, _, _ = _run(quiet)
    backlog_alerts, backlog_late, _ = _run(spiked, partitions=BACKLOG_PARTITIONS)
    print(
        f"alerts bench: {args.calls} simulated calls over 16 x 15-min windows (event time), "
        "bundled alerts.yaml"
    )
    print(
        f"  with a spike of {spiked.spike_intent} in window {spiked.spike_window}: "
        f"{len(spike_alerts)} alert(s)"
    )
    for line in spike_alerts:
        print(f"    {line}")
    print(f"  without a spike: {len(quiet_alerts)} alert(s)")
    for line in quiet_alerts:
        print(f"    {line}")
    print(
        f"  the spiked stream as a backlog on {BACKLOG_PARTITIONS} partitions, read round-robin: "
        f"{len(backlog_alerts)} alert(s), {backlog_late} call(s) dropped as late"
    )
    for line in backlog_alerts:
        print(f"    {line}")
    print(f"  alert logic (decode + facts + windows): {rate:,.0f} calls/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
