"""The stage runner every consumer service uses: at-least-once consume → process → produce.

See :mod:`callpipe.runner._runner` for the threading model and offset rules, and
:mod:`callpipe.errors` for how an exception's class decides retry, pause or dead-letter.
"""

from callpipe.runner._batch import BatchAccumulator
from callpipe.runner._dead_letter import dead_letter_headers
from callpipe.runner._offsets import OffsetTracker, PartitionOffsets
from callpipe.runner._retry import Action, Decision, RetryPolicy
from callpipe.runner._runner import StageRunner
from callpipe.runner._stage import BatchStage, MessageStage

__all__ = [
    "Action",
    "BatchAccumulator",
    "BatchStage",
    "Decision",
    "MessageStage",
    "OffsetTracker",
    "PartitionOffsets",
    "RetryPolicy",
    "StageRunner",
    "dead_letter_headers",
]
