"""A workflow written for redun's AWS Glue executor, run unchanged on a local Spark driver.

Only redun.ini changes: ``[executors.glue] type = spark_driver`` instead of
``aws_glue``. The tasks use ``redun.glue`` and ``ShardedS3Dataset.save_spark``
as redun's Glue example does.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redun import Scheduler
from redun.config import Config

pytestmark = [
    pytest.mark.slow,
    # redun.glue.udf on a machine without pyarrow: pyspark's own note, not ours.
    pytest.mark.filterwarnings("ignore:Arrow optimization failed:RuntimeWarning"),
]

FLOW = textwrap.dedent(
    """
    from redun import task
    from redun.file import ShardedS3Dataset
    from redun.glue import get_num_workers, get_spark_context, sql_query, udf

    redun_namespace = "{namespace}"


    @udf
    def tens(x):
        return x * 10


    @task(executor="glue")
    def process_data(out: str) -> ShardedS3Dataset:
        with open("{log}", "a") as log:
            log.write("process_data\\n")
        sc = get_spark_context()
        rows = [(x, x % 3, x * 100) for x in range(30)]
        df = sc.parallelize(rows).toDF(["id", "shard", "value"])
        dataset = ShardedS3Dataset(out, format="parquet")
        dataset.save_spark(df, partition_keys=["shard"], catalog_table="glue_only")
        return dataset


    @task(executor="glue")
    def summarize(dataset: ShardedS3Dataset) -> dict:
        df = dataset.load_spark()
        big = sql_query(df, "SELECT count(*) AS n FROM dataset WHERE value >= 1000")
        with_tens = df.withColumn("tens", tens(df["id"])).agg({{"tens": "sum"}}).collect()
        return {{
            "rows": df.count(),
            "big": big.collect()[0]["n"],
            "tens": with_tens[0][0],
            "workers": get_num_workers(),
        }}


    @task()
    def main(out: str) -> dict:
        return summarize(process_data(out))
    """
)


@pytest.fixture
def project(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    name = f"glueflow{os.getpid()}"
    (tmp_path / f"{name}.py").write_text(FLOW.format(namespace=name, log=str(tmp_path / "ran.log")))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(name), tmp_path
    sys.modules.pop(name, None)


def test_a_glue_workflow_runs_on_a_spark_driver_and_is_cached(project: Any) -> None:
    module, root = project
    config = Config(
        {
            "backend": {"db_uri": f"sqlite:///{root}/redun.db"},
            "executors.glue": {
                "type": "spark_driver",
                "master": "local[2]",
                "code_root": str(root),
            },
        }
    )
    out = str(root / "dataset")
    first = Scheduler(config=config)
    with pytest.warns(UserWarning, match="Glue Data Catalog"):
        result = first.run(module.main(out))
    first.stop()
    assert result == {"rows": 30, "big": 20, "tens": 10 * sum(range(30)), "workers": 2}
    # Partitioned as asked: one directory per shard value, parquet files in each.
    assert sorted(p.name for p in (root / "dataset").iterdir() if p.is_dir()) == [
        "shard=0",
        "shard=1",
        "shard=2",
    ]
    # The dataset is a value like any: a second run takes both Spark tasks from the cache.
    again = Scheduler(config=config)
    assert again.run(module.main(out)) == result
    again.stop()
    assert (root / "ran.log").read_text().splitlines() == ["process_data"]
