"""``callpipe`` command line: one entry point that dispatches to the service that owns the work.

Subcommands import their implementation lazily, so ``callpipe import`` needs only the ingest
extra installed and ``callpipe analyze`` only the transcriber and analyzer extras.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

__all__ = ["COMMANDS", "main"]

# name -> (module, function, one-line help). Each function takes argv (without the subcommand).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("callpipe_cli.demo", "main", "run the whole pipeline locally on the sample calls"),
    "analyze": ("callpipe_cli.analyze", "main", "transcribe and analyze local audio files (no Kafka)"),
    "import": ("callpipe_ingest.bulk_import", "main", "backfill a folder of existing recordings"),
    "bench": ("callpipe_cli.bench", "main", "run a benchmark and print its figures"),
    "schemas": ("callpipe.avro.contracts", "cli", "write schemas/*.avsc from the models"),
    "local": ("callpipe_tools.local.__main__", "main", "start/stop the local Kafka broker and registry"),
    "chaos": ("callpipe_cli.chaos", "main", "crash test: kill services and the broker under load"),
    "erase": ("callpipe_cli.erase", "main", "erase calls (by id or phone number) from every store"),
    "reprocess": (
        "callpipe_cli.reprocess",
        "main",
        "re-run stored calls from transcribe or analyze",
    ),
    "retention": ("callpipe_cli.retention", "main", "expire old audio and rows (sweep, ttl, lifecycle)"),
    "config-doc": ("callpipe_cli.configdoc", "main", "print the configuration table (docs/configuration.md)"),
}


def _usage() -> str:
    lines = ["usage: callpipe COMMAND [ARGS…]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"callpipe: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(
            f"callpipe {name}: {exc.name} is not installed; install the matching extra "
            f"(e.g. `pip install callpipe[ingest,transcriber,analyzer,sink]`)",
            file=sys.stderr,
        )
        return 2
    func: Callable[[list[str]], int] = getattr(module, func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
