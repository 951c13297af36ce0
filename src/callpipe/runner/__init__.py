"""The stage runner every consumer service uses: at-least-once consume → process → produce.

See :mod:`callpipe.runner._runner` for the threading model and offset rules, and
:mod:`callpipe.errors` for how an exception's class decides retry, pause or dead-letter.

Modules: ``_runner`` (StageRunner: intake, pauses, commits, rebalances, health, shutdown),
``_message_mode`` / ``_batch_mode`` (what happens to a taken message in each mode), ``_output``
(acknowledged outputs and dead letters), ``_context`` (state the core and the modes share),
``_consumer`` (the consumer thread), ``_offsets``, ``_retry``, ``_dead_letter``, ``_batch``, ``_stage``,
``_service`` (run_stage: how a consumer service runs, the one entry the services share).
"""

from callpipe.runner._batch import BatchAccumulator
from callpipe.runner._dead_letter import dead_letter_headers
from callpipe.runner._offsets import OffsetTracker, PartitionOffsets
from callpipe.runner._retry import Action, Decision, RetryPolicy
from callpipe.runner._runner import StageRunner
from callpipe.runner._service import (
    Companion,
    StageBuilder,
    StageEnvironment,
    StagePlan,
    StageSettings,
    run_stage,
    serve_stage,
)
from callpipe.runner._stage import BatchStage, MessageStage

__all__ = [
    "Action",
    "BatchAccumulator",
    "BatchStage",
    "Companion",
    "Decision",
    "MessageStage",
    "OffsetTracker",
    "PartitionOffsets",
    "RetryPolicy",
    "StageBuilder",
    "StageEnvironment",
    "StagePlan",
    "StageRunner",
    "StageSettings",
    "dead_letter_headers",
    "run_stage",
    "serve_stage",
]
