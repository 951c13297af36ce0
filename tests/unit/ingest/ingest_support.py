"""Helpers for ingest unit tests: an in-memory acknowledging sender, settings, WAV bytes."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field

from pydantic import SecretStr

from callpipe.errors import DependencyUnavailableError
from callpipe.settings import KafkaSettings, RecordingStoreSettings, SchemaRegistrySettings, TopicSettings
from callpipe_ingest.settings import IngestSettings

AUTH_TOKEN = "12345"
API_TOKEN = "s3cret-upload-token"
BASE = "https://calls.example.com"


@dataclass(frozen=True)
class Sent:
    topic: str
    partition: int
    offset: int


@dataclass
class MemorySender:
    """Test double of EventProducer: records what was sent; `down` simulates an unreachable broker."""

    records: list[tuple[str, str, bytes]] = field(default_factory=list)
    down: bool = False

    async def send(self, topic: str, key: str, value: bytes, headers: object = None) -> Sent:
        if self.down:
            raise DependencyUnavailableError("broker down (test)")
        self.records.append((topic, key, value))
        return Sent(topic, 0, len(self.records) - 1)

    def on(self, topic: str) -> list[tuple[str, str, bytes]]:
        return [r for r in self.records if r[0] == topic]


def make_settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        "public_base_url": BASE,
        "twilio_auth_token": SecretStr(AUTH_TOKEN),
        "api_token": SecretStr(API_TOKEN),
        "max_upload_bytes": 200_000,
        "kafka": KafkaSettings(),
        "topics": TopicSettings(),
        "schema_registry": SchemaRegistrySettings(),
        "recording_store": RecordingStoreSettings(),
    }
    values.update(overrides)
    return IngestSettings.model_validate(values)


def wav_bytes(seconds: float = 0.5, channels: int = 2, rate: int = 8000, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = int(seconds * rate)
        w.writeframes(bytes((i * 7 + seed) % 256 for i in range(frames * channels * 2)))
    return buf.getvalue()
