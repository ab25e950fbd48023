"""Spark with redun: the scheduler's SparkSession and the settings of the Spark executors.

``get_spark_session()`` gives a ``spark_driver`` task its SparkSession. The
executors themselves live in :mod:`redun.executors.spark`. pyspark is
imported only when a session is needed.
"""

from redun.spark.errors import NoSparkSession, SparkSetupError
from redun.spark.paths import spark_path
from redun.spark.session import get_spark_session

__all__ = ["NoSparkSession", "SparkSetupError", "get_spark_session", "spark_path"]
