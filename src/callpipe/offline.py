"""Environment switches that keep third-party libraries from phoning home.

Call recordings are sensitive: no component may contact anything but the configured broker,
registry, store and (opt-in) engines. Audit of the dependencies (docs/security.md):

* onnxruntime (faster-whisper's VAD) sends usage telemetry unless ``ORT_DISABLE_TELEMETRY=1``
  (measured: 3 connection attempts -> 0).
* huggingface_hub / transformers / sentence-transformers: ``HF_HUB_OFFLINE``,
  ``HF_HUB_DISABLE_TELEMETRY``, ``TRANSFORMERS_OFFLINE`` (models load from local paths anyway).
* ``DO_NOT_TRACK=1`` is honoured by several tools (and costs nothing).
* spaCy, chdb, uvicorn, FastAPI, confluent-kafka, CTranslate2: no telemetry found.

Values are set only where the operator has not set them (or set them empty), before any of those
libraries is imported: at the import of ``callpipe`` (every service imports it first).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["OFFLINE_ENV", "apply_offline_env"]

OFFLINE_ENV: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    # Not telemetry: Rust tokenizers (the offline analyzer's encoder) spawn threads per call,
    # which with several worker threads oversubscribes the cores the BLAS threads already use.
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env(environ: MutableMapping[str, str] | None = None) -> None:
    """Set every OFFLINE_ENV switch the environment does not already set."""
    target = os.environ if environ is None else environ
    for name, value in OFFLINE_ENV.items():
        if not target.get(name):  # unset or empty; an operator's explicit value is kept
            target[name] = value
