"""What a chaos run found: counts read back from ClickHouse and the broker, the checks, the text.

The checks are the pipeline's promises (README "Guarantees"): every call exactly once in
``calls FINAL``, none missing, nothing dead-lettered, no secret in any log, every planned fault
carried out (a run whose faults did not fire proves nothing), clean exits at the end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ChaosReport", "dead_letter_counts", "find_secrets", "read_warehouse"]


@dataclass
class ChaosReport:
    calls: int
    silent_calls: int = 0
    clip_s: float = 0.0
    startup_s: float = 0.0
    run_s: float = 0.0
    total_s: float = 0.0
    planned_kills: dict[str, int] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    planned_broker_restarts: int = 0
    broker_restarts: int = 0
    fault_times: list[tuple[str, float, float | None]] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    uploads_attempted: int = 0
    uploads_retried: int = 0
    upload_rejections: dict[str, str] = field(default_factory=dict)
    count_final: int = -1
    unique_calls: int = -1
    raw_rows: int = -1
    no_speech_rows: int = -1
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    secrets_found: dict[str, list[str]] = field(default_factory=dict)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    log_dir: Path | None = None
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def check(self) -> None:
        """Append one line per broken promise to ``violations``."""
        v = self.violations
        if self.count_final != self.calls:
            v.append(f"count() FINAL = {self.count_final}, expected {self.calls}")
        if self.unique_calls != self.calls:
            v.append(f"uniqExact(call_id) = {self.unique_calls}, expected {self.calls}")
        if self.missing:
            v.append(f"{len(self.missing)} call(s) missing, e.g. {self.missing[:5]}")
        if self.duplicates:
            v.append(f"{len(self.duplicates)} call(s) twice in calls FINAL, e.g. {self.duplicates[:5]}")
        if self.unexpected:
            v.append(f"{len(self.unexpected)} unexpected call id(s), e.g. {self.unexpected[:5]}")
        if self.upload_rejections:
            v.append(
                f"{len(self.upload_rejections)} upload(s) never accepted: "
                f"{list(self.upload_rejections.items())[:3]}"
            )
        for topic, count in self.dead_letters.items():
            if count:
                v.append(f"dead-letter topic {topic} holds {count} record(s)")
        for name, files in self.secrets_found.items():
            v.append(f"secret {name} appears in {files}")
        for name, planned in self.planned_kills.items():
            if self.kills.get(name, 0) < planned:
                v.append(f"{name} killed {self.kills.get(name, 0)}x, planned {planned}x")
        if self.broker_restarts < self.planned_broker_restarts:
            v.append(f"broker restarted {self.broker_restarts}x, planned {self.planned_broker_restarts}x")
        v.extend(f"service died without being killed: {e}" for e in self.unexpected_exits)
        for name, code in self.exit_codes.items():
            if code != 0:
                v.append(f"{name} exited {code} on SIGTERM at the end (expected a clean 0)")

    def text(self) -> str:
        kills = ", ".join(f"{n} {self.kills.get(n, 0)}/{p}" for n, p in self.planned_kills.items())
        lines = [
            "callpipe chaos report",
            f"  calls uploaded            {self.calls} ({self.silent_calls} silent)",
            f"  SIGKILLs done/planned     {kills}",
            f"  broker restarts           {self.broker_restarts}/{self.planned_broker_restarts}",
            f"  upload attempts           {self.uploads_attempted} ({self.uploads_retried} retried)",
            f"  time                      clips {self.clip_s:.0f}s, startup {self.startup_s:.0f}s, "
            f"run {self.run_s:.0f}s, total {self.total_s:.0f}s",
            f"  count() FINAL             {self.count_final}",
            f"  uniqExact(call_id)        {self.unique_calls}",
            f"  rows before merge         {self.raw_rows} (redeliveries collapsed by FINAL: "
            f"{max(self.raw_rows - self.count_final, 0)})",
            f"  no_speech rows            {self.no_speech_rows}",
            f"  missing calls             {len(self.missing)}",
            f"  duplicates                {len(self.duplicates)}",
            "  dead-letter records       "
            + (", ".join(f"{t.rsplit('.', 1)[-1]} {c}" for t, c in self.dead_letters.items()) or "-"),
            f"  secrets found in logs     {sum(len(f) for f in self.secrets_found.values())}",
            f"  exit codes at stop        {self.exit_codes}",
            "  faults (target@fraction: time into run)",
        ]
        lines += [
            f"    {t}@{f:.2f}: " + ("not done" if at is None else f"{at:.1f}s")
            for t, f, at in self.fault_times
        ]
        if self.log_dir is not None:
            lines.append(f"  logs                      {self.log_dir}")
        lines.append("RESULT: " + ("PASS" if self.ok else "FAIL"))
        lines += [f"  - {line}" for line in self.violations]
        return "\n".join(lines)


def read_warehouse(report: ChaosReport, chdb_path: Path, expected: set[str]) -> None:
    """Read the calls table itself (after the sink let go of its chdb directory)."""
    from callpipe_cli.localrun import query_chdb

    counts = query_chdb(
        chdb_path,
        "SELECT count(), uniqExact(call_id), countIf(status = 'no_speech') FROM {db:Identifier}.calls FINAL",
    )
    raw = query_chdb(chdb_path, "SELECT count() FROM {db:Identifier}.calls")
    per_call = query_chdb(
        chdb_path, "SELECT call_id, count() FROM {db:Identifier}.calls FINAL GROUP BY call_id"
    )
    report.count_final, report.unique_calls, report.no_speech_rows = (int(x) for x in counts[0])
    report.raw_rows = int(raw[0][0])
    stored = {str(row[0]) for row in per_call}
    report.duplicates = sorted(str(row[0]) for row in per_call if int(row[1]) > 1)
    report.missing = sorted(expected - stored)
    report.unexpected = sorted(stored - expected)


def dead_letter_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Records on each dead-letter topic (a topic never created holds none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-dlq-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(timeout=30)
        counts: dict[str, int] = {}
        for topic in topics:
            total = 0
            for partition in metadata.topics[topic].partitions if topic in metadata.topics else {}:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                total += high - low
            counts[topic] = total
        return counts
    finally:
        consumer.close()


def find_secrets(log_dir: Path, values: dict[str, str]) -> dict[str, list[str]]:
    """Which secret values appear in which log files (both should be empty)."""
    found: dict[str, list[str]] = {}
    for path in sorted(log_dir.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_bytes()
        for name, value in values.items():
            if value.encode() in text:
                found.setdefault(name, []).append(path.name)
    return found
