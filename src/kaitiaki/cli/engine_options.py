"""The ``--engine`` and ``--spark-master`` options shared by commands that can run on Spark."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class EngineChoice(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOption = Annotated[
    EngineChoice,
    typer.Option(
        "--engine",
        help="duckdb: this machine. spark: a Spark cluster (or local mode); same results.",
        case_sensitive=False,
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        envvar="KAITIAKI_SPARK_MASTER",
        help="Spark master URL (spark://host:7077, yarn, k8s://..., local[4]); default local[2].",
    ),
]
DriverMemoryOption = Annotated[
    str | None,
    typer.Option("--spark-driver-memory", help="Spark driver memory, e.g. 8g (local runs)."),
]
