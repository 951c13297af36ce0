"""Call data lifecycle: per-call status (``call_events``) fed from the topics and dead letters."""

from callpipe_sink.lifecycle.event_rows import CallEventRow, EventTopics, event_row
from callpipe_sink.lifecycle.status import CallStatusQueries, current_state

__all__ = ["CallEventRow", "CallStatusQueries", "EventTopics", "current_state", "event_row"]
