"""``python -m callpipe_tools.local``: fetch the jars, start/stop/status a local broker or registry.

``start`` runs detached and writes a pidfile unless ``--foreground`` is given; ``stop`` reads the
pidfile. ``./dev kafka|registry ...`` and the demo call this.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from callpipe_tools.local._errors import LocalInfraError
from callpipe_tools.local._jars import cache_dir, ensure_apicurio, ensure_kafka_jars
from callpipe_tools.local._process import pid_alive, port_open, stop_pid
from callpipe_tools.local.kafka import LocalKafka
from callpipe_tools.local.registry import LocalRegistry

# A pidfile may outlive its process and the pid be reused: only signal a process whose command
# line shows it is the server we started.
_CMDLINE_MARKERS = {"kafka": "kafka.Kafka", "registry": "apicurio-registry-app"}


def _read_pid(pidfile: Path, kind: str) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return pid if _CMDLINE_MARKERS[kind] in cmdline else None


def _foreground(server: LocalKafka | LocalRegistry) -> int:
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping and server.running:
        time.sleep(0.5)
    crashed = not server.running
    server.stop()
    if crashed:
        print(f"server exited; log tail:\n{server.log_tail()}", file=sys.stderr)
        return 1
    return 0


def _start(kind: str, server: LocalKafka | LocalRegistry, pidfile: Path, foreground: bool, where: str) -> int:
    if (pid := _read_pid(pidfile, kind)) is not None:
        print(f"{kind} already running (pid {pid}) at {where}")
        return 0
    server.start(detach=not foreground)
    print(f"{kind} ready at {where} in {server.last_start_s:.1f}s (pid {server.pid}, log {server.log_path})")
    if foreground:
        return _foreground(server)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{server.pid}\n{where}\n")
    server.release()
    return 0


def _stop(kind: str, pidfile: Path) -> int:
    pid = _read_pid(pidfile, kind)
    if pid is None:
        print(f"{kind} not running")
    else:
        stop_pid(pid)
        print(f"{kind} stopped (pid {pid})")
    pidfile.unlink(missing_ok=True)
    return 0


def _status(kind: str, pidfile: Path) -> int:
    pid = _read_pid(pidfile, kind)
    if pid is None:
        print(f"{kind} not running")
        return 1
    lines = pidfile.read_text().splitlines()
    where = lines[1] if len(lines) > 1 else "?"
    print(f"{kind} running (pid {pid}) at {where}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m callpipe_tools.local", description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="jar cache (default $CALLPIPE_CACHE)")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("fetch", help="download the Kafka jars and the Apicurio app into the cache")

    kafka = sub.add_parser("kafka", help="a local KRaft broker")
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.add_argument("--data-dir", type=Path, default=Path("var/kafka"))
    kafka.add_argument("--port", type=int, default=9092)
    kafka.add_argument("--controller-port", type=int, default=None)
    kafka.add_argument("--pidfile", type=Path, default=Path("var/kafka.pid"))
    kafka.add_argument("--foreground", action="store_true", help="run until Ctrl-C instead of detaching")

    registry = sub.add_parser("registry", help="a local Apicurio schema registry (in-memory)")
    registry.add_argument("action", choices=["start", "stop", "status"])
    registry.add_argument("--log-dir", type=Path, default=Path("var/registry"))
    registry.add_argument("--port", type=int, default=8085)
    registry.add_argument("--pidfile", type=Path, default=Path("var/registry.pid"))
    registry.add_argument("--foreground", action="store_true", help="run until Ctrl-C instead of detaching")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.what == "fetch":
            root = cache_dir(args.cache)
            print(f"kafka jars: {ensure_kafka_jars(root)}")
            print(f"apicurio:   {ensure_apicurio(root)}")
            return 0
        if args.action == "stop":
            return _stop(args.what, args.pidfile)
        if args.action == "status":
            return _status(args.what, args.pidfile)
        if args.what == "kafka":
            if _read_pid(args.pidfile, "kafka") is None and port_open(args.port):
                print(f"port {args.port} is taken by another process", file=sys.stderr)
                return 1
            kafka = LocalKafka(
                data_dir=args.data_dir.resolve(), port=args.port,
                controller_port=args.controller_port, cache=args.cache,
            )  # fmt: skip
            return _start("kafka", kafka, args.pidfile, args.foreground, kafka.bootstrap_servers)
        registry = LocalRegistry(port=args.port, log_dir=args.log_dir.resolve(), cache=args.cache)
        return _start("registry", registry, args.pidfile, args.foreground, registry.url)
    except LocalInfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
