"""An Apache Kafka broker (KRaft, broker+controller in one JVM) for tests and local runs.

The jars come from Maven Central (see ``_jars``); no Docker. The broker listens on 127.0.0.1
only. Ports and the data directory stay fixed for the life of a ``LocalKafka`` so ``restart()``
brings back the same broker with the same topics, offsets and committed group positions.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Self

from callpipe_tools.local._errors import LocalInfraError, ServerStartError
from callpipe_tools.local._jars import ensure_kafka_jars
from callpipe_tools.local._process import ServerProcess, free_port, port_open
from callpipe_tools.local._server import LocalServer

__all__ = ["LocalKafka", "given_or_local_broker"]

# Quiet the per-request chatter but keep startup, shutdown and every warning: the log tail is
# what a failed test shows.
_LOG4J2 = """\
status = warn
name = callpipe-local-kafka
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d{HH:mm:ss,SSS}] %-5p %m (%c{1})%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.log.name = kafka.log
logger.log.level = warn
logger.storage.name = org.apache.kafka.storage
logger.storage.level = warn
logger.coord.name = org.apache.kafka.coordinator
logger.coord.level = warn
logger.kconfig.name = kafka.server.KafkaConfig
logger.kconfig.level = warn
logger.cconfig.name = org.apache.kafka.common.config
logger.cconfig.level = warn
"""


def _cluster_id() -> str:
    # Kafka's Uuid text form: URL-safe base64 of 16 bytes, unpadded. Kafka avoids a leading '-'
    # because the id is then mistaken for a command-line flag; so do we.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class LocalKafka(LocalServer):
    """One KRaft broker. Use as a context manager, or call ``start()``/``close()``.

    ``data_dir`` None means a temporary directory removed by ``close()``; a given directory is
    kept. ``port``/``controller_port`` None means a free port chosen now (kept across restarts;
    for a reused data dir, the controller port recorded there is reused since the KRaft voter
    set stores it).
    """

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        cache: Path | None = None,
        heap_mb: int = 384,
        start_timeout: float = 120.0,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="callpipe-kafka-")) if data_dir is None else data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            ServerProcess("kafka", self.data_dir / "logs" / "server.log"),
            self.data_dir,
            owns_dir=data_dir is None,
        )
        state = self._read_state()
        self.port = port or int(state.get("port", 0)) or free_port()
        self.controller_port = controller_port or int(state.get("controller_port", 0)) or free_port()
        if self.controller_port == self.port:
            raise LocalInfraError("port and controller_port must differ")
        self.cluster_id = state.get("cluster_id") or _cluster_id()
        self._cache = cache
        self.heap_mb = heap_mb
        self.start_timeout = start_timeout
        self._extra = dict(properties or {})

    # -- public surface -----------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, detach: bool = False) -> Self:
        """Fetch jars if needed, format storage on first use, start, and wait until ready."""
        if port_open(self.port):
            raise ServerStartError(f"port {self.port} is already in use; is another broker running?")
        began = time.monotonic()
        lib = ensure_kafka_jars(self._cache)
        props = self._write_config()
        self._write_state()
        if not (self._log_dir / "meta.properties").is_file():
            self._format(lib, props)
        self._proc.spawn(self._java(lib, "kafka.Kafka", str(props)), cwd=self.data_dir, detach=detach)
        self._proc.wait_ready(self._ready, self.start_timeout)
        self.last_start_s = time.monotonic() - began
        return self

    def __repr__(self) -> str:
        return (
            f"LocalKafka({self.bootstrap_servers}, data_dir={str(self.data_dir)!r}, running={self.running})"
        )

    # -- internals ----------------------------------------------------------------------------

    @property
    def _log_dir(self) -> Path:
        return self.data_dir / "data"

    @property
    def _state_path(self) -> Path:
        return self.data_dir / "callpipe-local.json"

    def _read_state(self) -> dict[str, str]:
        try:
            loaded = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    def _write_state(self) -> None:
        state = {"port": self.port, "controller_port": self.controller_port, "cluster_id": self.cluster_id}
        self._state_path.write_text(json.dumps(state, indent=2) + "\n")

    def _properties(self) -> dict[str, str]:
        listeners = f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": listeners,
            "advertised.listeners": listeners,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self._log_dir),
            # Auto-create stays on (Kafka's default) but services create their topics explicitly.
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            # Fewer __consumer_offsets partitions than the default 50: the first group join
            # creates them all, which dominates test time on a 2-core machine.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests join groups constantly; the default 3 s delay would be paid on every join.
            "group.initial.rebalance.delay.ms": "0",
            # After kill() the restarted broker must wait for its old registration's session to
            # expire (default 9 s) before it may register again; chaos tests pay that each time.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
        }
        props.update(self._extra)
        return props

    def _write_config(self) -> Path:
        config = self.data_dir / "config"
        config.mkdir(exist_ok=True)
        (config / "log4j2.properties").write_text(_LOG4J2)
        props = config / "server.properties"
        props.write_text("".join(f"{k}={v}\n" for k, v in self._properties().items()))
        return props

    def _java(self, lib: Path, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise LocalInfraError(
                "java not found on PATH: install a JRE 17+ (Debian: openjdk-17-jre-headless)"
            )
        return [
            java,
            f"-Xms{min(256, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'config' / 'log4j2.properties'}",
            "-cp",
            f"{lib}/*",
            main,
            *args,
        ]

    def _format(self, lib: Path, props: Path) -> None:
        # --standalone: a single-voter quorum bootstrapped from controller.quorum.bootstrap.servers.
        argv = self._java(
            lib, "kafka.tools.StorageTool", "format", "--standalone", "-t", self.cluster_id,
            "-c", str(props), "--ignore-formatted",
        )  # fmt: skip
        fmt = ServerProcess("kafka-storage-format", self._proc.log_path)
        fmt.spawn(argv, cwd=self.data_dir)
        deadline = time.monotonic() + 120.0
        while fmt.running and time.monotonic() < deadline:
            time.sleep(0.1)
        if fmt.running:
            fmt.kill()
            raise ServerStartError("kafka storage format timed out", log_tail=fmt.log_tail())
        if not (self._log_dir / "meta.properties").is_file():
            raise ServerStartError("kafka storage format failed", log_tail=fmt.log_tail())

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        # Import here: the jar/process layer must not need librdkafka to be importable.
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        try:
            admin.list_topics(timeout=2.0)
        except KafkaException:
            return False
        return True


@contextlib.contextmanager
def given_or_local_broker(bootstrap_servers: str | None) -> Iterator[str]:
    """Yield ``bootstrap_servers`` when given; else start a temporary ``LocalKafka`` for the block.

    For commands (benchmarks) that run against a broker the user names, or on their own."""
    if bootstrap_servers:
        yield bootstrap_servers
        return
    print("starting a local Kafka broker (no bootstrap servers given)…", file=sys.stderr)
    with LocalKafka() as kafka:
        yield kafka.bootstrap_servers
