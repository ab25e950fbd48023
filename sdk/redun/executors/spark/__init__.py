"""Spark executors: ``spark`` (a batch of calls as one Spark job) and ``spark_driver``
(tasks that are Spark programs, run in the driver). See :mod:`redun.spark`."""

from redun.executors.spark.batch import SparkExecutor
from redun.executors.spark.driver import SparkDriverExecutor

__all__ = ["SparkDriverExecutor", "SparkExecutor"]
