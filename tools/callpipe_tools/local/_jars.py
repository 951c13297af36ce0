"""Fetching the Java servers from Maven Central into a cache directory.

Why Maven and not Docker or a release tarball: Maven Central is reachable from every machine we
develop and test on, and ``mvn`` resolves the transitive jars for us. Every fetch writes a marker
file only after it succeeded, so an interrupted download is redone rather than trusted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import httpx

from callpipe_tools.local._errors import FetchError

__all__ = [
    "APICURIO_VERSION",
    "KAFKA_ARTIFACTS",
    "KAFKA_VERSION",
    "MAVEN_CENTRAL",
    "apicurio_runner",
    "cache_dir",
    "ensure_apicurio",
    "ensure_kafka_jars",
]

KAFKA_VERSION = "4.2.0"
# Kafka logs through slf4j 1.7; the POM ships no binding, without one the broker's errors vanish.
KAFKA_ARTIFACTS: tuple[tuple[str, str, str], ...] = (
    ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.25.3"),
)
# The newest 3.x that runs on Java 17 (3.1+ is built for Java 21); see ensure_apicurio.
APICURIO_VERSION = "3.0.9"
_APICURIO_SHA512 = (
    "1ed16d7284599c705a1ccbc551b307064990eb1f58c340e37eedc80716f24aba"
    "6216b85db35bc6c1651e44fdfd3598c4c6daa082f18e020e6b8f192036e609c0"
)
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
# Maven 3.8.7 defaults to an old dependency plugin without the goals' current options: pin it.
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_MARKER = ".complete"
_FETCH_TIMEOUT_S = 1800.0


def cache_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else ``$CALLPIPE_CACHE``, else ``~/.cache/callpipe`` (created)."""
    path = explicit or Path(os.environ.get("CALLPIPE_CACHE") or Path.home() / ".cache" / "callpipe")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mvn(args: list[str], *, cwd: Path, cache: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("mvn not found on PATH: install Maven (Debian: apt-get install maven)")
    cmd = [mvn, "-q", "-B", f"-Dmaven.repo.local={cache / 'm2'}", *args]
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            cmd, cwd=cwd, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"mvn timed out after {_FETCH_TIMEOUT_S:.0f}s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise FetchError(f"mvn failed ({proc.returncode}): {' '.join(cmd)}", output=tail)


def _pom(artifacts: tuple[tuple[str, str, str], ...]) -> str:
    deps = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in artifacts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.callpipe</groupId>
  <artifactId>callpipe-local-servers</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def _replace_dir(staging: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    (final / _MARKER).write_text("ok\n")


def ensure_kafka_jars(cache: Path | None = None) -> Path:
    """Directory holding every runtime jar of the Kafka broker; fetched once, then reused."""
    root = cache_dir(cache)
    final = root / f"kafka-{KAFKA_VERSION}" / "lib"
    if (final / _MARKER).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    # Staging dir on the same filesystem so the final rename is atomic.
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(_pom(KAFKA_ARTIFACTS))
        staging = work / "lib"
        _mvn(
            [
                f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            cwd=work,
            cache=root,
        )
        if not any(staging.glob("kafka_2.13-*.jar")):
            raise FetchError(f"mvn succeeded but no kafka_2.13 jar landed in {staging}")
        _replace_dir(staging, final)
    return final


def _download(url: str, dest: Path, sha512: str) -> None:
    digest = hashlib.sha512()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            response.raise_for_status()
            with dest.open("wb") as fh:
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise FetchError(f"download failed: {url}: {exc}") from exc
    if digest.hexdigest() != sha512:
        raise FetchError(f"SHA-512 mismatch for {url}: got {digest.hexdigest()}")


def ensure_apicurio(cache: Path | None = None) -> Path:
    """Directory of the unpacked Apicurio Registry app (holds ``apicurio-registry-app-*-runner.jar``).

    Why not ``mvn dependency:unpack`` like Kafka: 3.0.9's POM names a parent POM
    (``io.apicurio:apicurio-registry:3.0.9``) that is not on Central, so Maven refuses to resolve
    it; 3.1+/3.3.x resolve but are compiled for Java 21 and we run on Java 17. So we fetch the
    tarball from the same Central repository over HTTPS and check a pinned SHA-512.
    """
    root = cache_dir(cache)
    final = root / f"apicurio-registry-{APICURIO_VERSION}"
    if (final / _MARKER).is_file():
        return final
    name = f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
    url = f"{MAVEN_CENTRAL}/io/apicurio/apicurio-registry-app/{APICURIO_VERSION}/{name}"
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
        work = Path(tmp)
        archive = work / name
        _download(url, archive, _APICURIO_SHA512)
        staging = work / "app"
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        runners = sorted(staging.rglob("apicurio-registry-app-*-runner.jar"))
        if not runners:
            raise FetchError(f"unpacked {name} but found no runner jar under {staging}")
        # The tarball may wrap the app in a top-level folder; keep the folder holding the runner.
        _replace_dir(runners[0].parent, final)
    return final


def apicurio_runner(app_dir: Path) -> Path:
    """The runnable jar inside an ``ensure_apicurio`` directory."""
    return app_dir / f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"
