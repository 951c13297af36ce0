"""Response bodies shaped like OpenAI's documented chat-completions responses.

Shared by the LLM adapter's unit tests and the analyzer's integration and fault-injection tests,
so all of them speak to the same documented shape: ``choices[].message`` with ``content``,
``refusal`` and ``annotations``, ``finish_reason``, the ``usage`` block with its details, and the
documented error body ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOTAL_TOKENS", "completion", "error_body"]

TOTAL_TOKENS = 976  # usage.total_tokens of every ``completion()``


def completion(content: str | None, *, refusal: str | None = None, finish: str = "stop") -> dict[str, Any]:
    """The chat.completion object exactly as the API reference shows it."""
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": 812,
            "completion_tokens": 164,
            "total_tokens": TOTAL_TOKENS,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_44709d6fcb",
    }


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}
