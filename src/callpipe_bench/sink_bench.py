"""``callpipe bench sink``: the sink's benchmark, which lives with the sink service.

Resolved lazily, so the other benchmarks of this package run without the sink extra; the figures
and flags are documented in ``callpipe_sink.bench``.

    python -m callpipe_bench.sink_bench [--messages N] [--seed-calls N] [--requests N] …
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    bench = importlib.import_module("callpipe_sink.bench")
    return int(bench.main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
