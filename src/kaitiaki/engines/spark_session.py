"""Building the SparkSession kaitiaki runs on: a cluster's master URL, or local mode.

The master comes from ``--spark-master``, else ``KAITIAKI_SPARK_MASTER``, else ``local[2]``.
On a cluster, ``spark-submit`` (or the cluster's own defaults) sets memory and executors; the
settings here only make results reproducible (UTC session time zone) and local runs sensible.
Spark needs Java 17 or later: ``check_java`` says so plainly before the JVM fails obscurely.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "KAITIAKI_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"
MIN_JAVA = 17
_LOCAL = re.compile(r"^local(?:\[(\d+|\*)(?:,\d+)?\])?$")


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here: no Java, an old Java, or no pyspark."""


@dataclass(frozen=True)
class SparkSettings:
    """What a run may choose; None keeps Spark's (or spark-submit's) value."""

    master: str | None = None
    driver_memory: str | None = None  # e.g. "4g"; only takes effect before the JVM starts
    shuffle_partitions: int | None = None
    app_name: str = "kaitiaki"


def resolve_master(master: str | None = None) -> str:
    return master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER


def local_cores(master: str) -> int | None:
    """The cores of a ``local[n]`` master (None for a cluster URL)."""
    found = _LOCAL.match(master)
    if found is None:
        return None
    if found.group(1) is None:
        return 1
    if found.group(1) == "*":
        return os.cpu_count() or 1
    return int(found.group(1))


def java_version(java: str | None = None) -> int | None:
    """The major version of ``java`` (JAVA_HOME's, else the one on PATH), or None if absent."""
    if java is None:
        home = os.environ.get("JAVA_HOME")
        java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def check_java() -> int:
    version = java_version()
    if version is None:
        raise SparkUnavailableError(
            "Spark needs Java 17 or later and none was found (set JAVA_HOME or install"
            " openjdk-17-jre-headless)"
        )
    if version < MIN_JAVA:
        raise SparkUnavailableError(f"Spark needs Java {MIN_JAVA} or later; found Java {version}")
    return version


def spark_session(settings: SparkSettings | None = None) -> SparkSession:
    """The active session if there is one (spark-submit made it), else a new one."""
    settings = settings or SparkSettings()
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise SparkUnavailableError("pyspark is not installed") from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    check_java()
    master = resolve_master(settings.master)
    cores = local_cores(master)
    if cores is not None:
        # Local workers run this interpreter (the one with kaitiaki installed), not PATH's python3.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(settings.app_name)
        # Instants are stored and shown in UTC, as DuckDB's engine does.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Results are compared row for row with DuckDB's: no ANSI surprises in CASTs either way.
        .config("spark.sql.ansi.enabled", "false")
        # Parquet instants as microseconds adjusted to UTC, as DuckDB and pyarrow write them.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    partitions = settings.shuffle_partitions or (max(2, cores * 2) if cores else None)
    if partitions:
        # The default 200 partitions make small local jobs spend their time scheduling.
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    if cores is not None:
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config(
            "spark.driver.host", "127.0.0.1"
        )
    if settings.driver_memory:
        builder = builder.config("spark.driver.memory", settings.driver_memory)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
