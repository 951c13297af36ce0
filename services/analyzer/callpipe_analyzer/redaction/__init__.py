"""PII/PCI redaction applied before any text leaves the analyzer or reaches storage."""

from callpipe_analyzer.redaction.digits import luhn_valid
from callpipe_analyzer.redaction.redactor import (
    AudioSpan,
    RedactionResult,
    Redactor,
    RedactorOptions,
    audio_spans,
)

__all__ = ["AudioSpan", "RedactionResult", "Redactor", "RedactorOptions", "audio_spans", "luhn_valid"]
