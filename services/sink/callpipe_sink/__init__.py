"""callpipe sink: analyses → ClickHouse (batched, idempotent), insights API, dashboard page."""
