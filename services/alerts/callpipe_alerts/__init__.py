"""callpipe alerts: real-time alerts over event-time windows of analyzed calls (faust-streaming job)."""
