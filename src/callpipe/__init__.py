"""callpipe: shared models, Avro serde, stage runner, settings and errors."""

from callpipe.offline import apply_offline_env

# Before any service imports onnxruntime, huggingface_hub & co.: no telemetry leaves the machine.
apply_offline_env()
