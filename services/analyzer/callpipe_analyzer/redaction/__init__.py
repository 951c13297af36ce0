"""PII/PCI redaction applied before any text leaves the analyzer or reaches storage."""

from callpipe_analyzer.redaction.digits import luhn_valid
from callpipe_analyzer.redaction.redactor import RedactionResult, Redactor, RedactorOptions

__all__ = ["RedactionResult", "Redactor", "RedactorOptions", "luhn_valid"]
