"""Where the SparkSession lives: in this process, or in a warm Spark host (daemon runs)."""

from __future__ import annotations

from typing import Any

from redun.spark.settings import SparkSettings


def driver_for(settings: SparkSettings) -> Any:
    """The driver serving ``settings`` in this process."""
    from redun.spark.session import local_driver

    return local_driver()
