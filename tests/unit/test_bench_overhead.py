"""The end-to-end overhead figures of ``callpipe bench all``: engine time is taken out, and the
rest is split into timed steps, the hops up to the analysis and the sink's part."""

from __future__ import annotations

from callpipe_bench.all_bench import overhead_figures


def test_overhead_is_latency_minus_engine_split_by_stage() -> None:
    row = [
        "2026-11-24T10:00:00+00:00",  # received_at
        "2026-11-24T10:00:03.500000+00:00",  # analyzed_at
        "2026-11-24T10:00:04.700000+00:00",  # inserted_at
        ["transcriber.download", "transcriber.stt", "transcriber.total", "analyzer.analyze"],
        [0.25, 1.5, 1.9, 0.5],
    ]
    f = overhead_figures([row])
    assert f["calls"] == 1
    assert abs(f["e2e_p50"] - 4.7) < 1e-6
    assert abs(f["engine_p50"] - 2.0) < 1e-6  # stt + analyze; "total" spans the others
    assert abs(f["overhead_p50"] - 2.7) < 1e-6
    assert abs(f["steps_p50"] - 0.25) < 1e-6
    assert abs(f["sink_p50"] - 1.2) < 1e-6
    assert abs(f["upstream_p50"] - (2.7 - 0.25 - 1.2)) < 1e-6
