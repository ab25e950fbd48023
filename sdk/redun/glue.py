"""``redun.glue``: the Glue helpers of redun, for Spark tasks run here by ``spark_driver``.

redun runs ``@task(executor="glue")`` tasks as AWS Glue jobs (``[executors.glue]
type = aws_glue``). This engine runs the same task code in a Spark driver it
manages instead, on ``local[*]``, a standalone master, YARN or Kubernetes:
set that section to ``type = spark_driver`` (with ``master =`` and the
rest, see the README's Spark section) and these helpers find the task's
SparkSession. What only Glue has (its GlueContext and Data Catalog, the Glue
job set-up) raises :class:`GlueNotAvailable`, saying so.

Importing this module imports no pyspark: a workflow can import it at its top.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from redun.errors import UsageError
from redun.spark.errors import NoSparkSession

__all__ = [
    "GlueNotAvailable",
    "SparkNotInitialized",
    "clean_datacatalog_table",
    "get_glue_context",
    "get_num_workers",
    "get_spark_context",
    "get_spark_session",
    "load_datacatalog_spark_dataset",
    "setup_glue_job",
    "sql_query",
    "udf",
]


class SparkNotInitialized(NoSparkSession, ValueError):
    """No SparkSession here (a ValueError too, as code written for redun catches it)."""


class GlueNotAvailable(UsageError, ValueError):
    """A Glue-only feature (GlueContext, Data Catalog) asked of a Spark that is not Glue."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs AWS Glue, which this engine does not run: Glue-style tasks run "
            "on Spark here ([executors.NAME] type = spark_driver); use the SparkSession "
            "(redun.glue.get_spark_session()) and plain Spark reads and writes instead"
        )


def get_spark_session() -> Any:
    """The SparkSession of the ``spark_driver`` task running here.

    Outside such a task, pyspark's active session (one the caller started) if
    there is one.

    Raises:
        SparkNotInitialized: no session (not in a Spark task, or pyspark missing).
    """
    from redun.spark.session import get_spark_session as driver_session

    try:
        return driver_session()
    except NoSparkSession as error:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise SparkNotInitialized(
                "pyspark is not installed: pip install 'redun[spark]'"
            ) from None
        session = SparkSession.getActiveSession()
        if session is None:
            raise SparkNotInitialized(str(error)) from None
        return session


def get_spark_context() -> Any:
    """The SparkContext of :func:`get_spark_session`'s session."""
    return get_spark_session().sparkContext


def get_num_workers() -> int:
    """``spark.executor.instances`` when the cluster sets it, else the default
    parallelism (on ``local[N]``, N)."""
    context = get_spark_context()
    instances = context.getConf().get("spark.executor.instances")
    return int(instances) if instances else int(context.defaultParallelism)


def udf(wrapped_func: Callable | None = None, return_type: Any = None) -> Any:
    """``pyspark.sql.functions.udf`` once a session exists; the plain function before.

    A module-level ``@udf`` is evaluated when the workflow is imported, where no
    Spark runs yet: the function is returned unchanged, and the same decorator
    gives a UDF when the module is imported inside the Spark task.
    """
    if wrapped_func is None:
        return functools.partial(udf, return_type=return_type)
    try:
        get_spark_session()
    except SparkNotInitialized:
        return wrapped_func
    from pyspark.sql.functions import udf as spark_udf

    if return_type is None:
        return spark_udf(wrapped_func)
    return spark_udf(wrapped_func, return_type)


def sql_query(dataset: Any, query: str, dataset_alias: str = "dataset") -> Any:
    """Run SQL on a DataFrame, which the query names ``dataset_alias``.

    Raises:
        ValueError: the query does not mention the alias.
    """
    if dataset_alias not in query:
        raise ValueError(f"the query does not name the dataset {dataset_alias!r}: {query!r}")
    dataset.createOrReplaceTempView(dataset_alias)
    return get_spark_session().sql(query)


def setup_glue_job(job_name: str, job_args: list[str]) -> Any:
    raise GlueNotAvailable("setup_glue_job()")


def get_glue_context() -> Any:
    raise GlueNotAvailable("get_glue_context()")


def clean_datacatalog_table(database: str, table: str, remove_older_than: int = 1) -> None:
    raise GlueNotAvailable("clean_datacatalog_table() (the Glue Data Catalog)")


def load_datacatalog_spark_dataset(
    database: str, table_name: str, hashfield: str | None = None
) -> Any:
    raise GlueNotAvailable("load_datacatalog_spark_dataset() (the Glue Data Catalog)")
