"""Errors of the Spark integration, under redun's tree (see :mod:`redun.errors`)::

RedunError
├── UsageError
│   └── SparkSetupError     Spark cannot start as configured: no pyspark, no Java,
│                           a master that cannot be reached, a session that fails to start
└── SchedulerError
    └── NoSparkSession      get_spark_session() outside a spark_driver task
"""

from __future__ import annotations

from redun.errors import SchedulerError, UsageError


class SparkSetupError(UsageError):
    """Spark cannot be started as configured (one line saying what to install or set)."""


class NoSparkSession(SchedulerError):
    """Raised by ``get_spark_session()`` outside a task run by a ``spark_driver`` executor."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "no SparkSession here: get_spark_session() works inside a task run by a "
            "spark_driver executor (@task(executor=NAME) with [executors.NAME] "
            "type = spark_driver)"
        )
