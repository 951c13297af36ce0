"""Labelled caller sentences of a call center's own, as CSV files named in ``analysis.yaml``.

A taxonomy's few hand-written examples per intent carry it zero-shot; the sentences a call center
has already labelled (from QA reviews, a ticketing system, a previous vendor) carry it much
further: Banking77 mapped to a 13-intent bank taxonomy goes from 0.715 zero-shot to 0.956 with its
training sentences added (``./dev bench analyzer-real banking77``). ``intent_examples_files``
lists CSV files (UTF-8, a header with ``text`` and ``intent`` columns; paths relative to the
configuration file) whose rows are added to the named intents' examples when the file is loaded:
both analyzers see the same taxonomy, and the configuration's fingerprint (part of the analysis
version) changes with the rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["REQUIRED_COLUMNS", "merge_intent_examples", "read_intent_examples"]

REQUIRED_COLUMNS = ("text", "intent")


def read_intent_examples(path: Path, intents: Iterable[str]) -> dict[str, list[str]]:
    """Rows of one CSV file by intent; ``ValueError`` naming the file and line on a bad row."""
    known = set(intents)
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: the header lacks column(s) {', '.join(missing)} (needs text,intent)")
        for row in reader:
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text:
                raise ValueError(f"{path}, line {reader.line_num}: empty text")
            if intent not in known:
                raise ValueError(
                    f"{path}, line {reader.line_num}: intent {intent!r} is not in the taxonomy "
                    f"({', '.join(sorted(known))})"
                )
            out.setdefault(intent, []).append(text)
    return out


def merge_intent_examples(raw: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """The raw configuration with the rows of its ``intent_examples_files`` added to the intents."""
    files = raw.get("intent_examples_files") or []
    intents = raw.get("intents")
    if not files or not isinstance(files, list) or not isinstance(intents, dict):
        return raw  # nothing to add, or a malformed entry for the model's validation to report
    # A malformed intent entry is left as it is, for the model's validation to report.
    merged = {name: dict(spec) if isinstance(spec, dict) else spec for name, spec in intents.items()}
    for name in (f for f in files if isinstance(f, str)):
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        for intent, texts in read_intent_examples(path, merged).items():
            spec = merged[intent]
            if isinstance(spec, dict):
                spec["examples"] = [*(spec.get("examples") or []), *texts]
    return {**raw, "intents": merged}
