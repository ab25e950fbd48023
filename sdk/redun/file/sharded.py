"""``ShardedS3Dataset``: a dataset stored as many shard files under one S3 prefix.

Its hash is its path and the sorted list of its shard files: adding, removing
or rewriting shards (new names) changes it; editing one shard in place does
not (use ``File`` values for that). It is valid while the listing is the one
it was hashed with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from redun.file.file import File
from redun.file.filesystem import glob_file
from redun.hashing import hash_parts
from redun.value import Value

FORMATS = ("avro", "csv", "ion", "grokLog", "json", "orc", "parquet", "xml")


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"unknown shard format {format!r}; use one of {', '.join(FORMATS)}")


class ShardedS3Dataset(Value):
    """The shards ``PATH/*.FORMAT`` (and, with ``recurse``, ``PATH/**/*.FORMAT``).

    Args:
        path: the S3 prefix (``s3://bucket/data``).
        format: the shards' file extension: one of :data:`FORMATS`.
        recurse: include shards in sub-prefixes.
    """

    type_name = "redun.ShardedS3Dataset"

    def __init__(self, path: str, format: str = "parquet", recurse: bool = True) -> None:
        _check_format(format)
        self._path = path.rstrip("/")
        self._format = format
        self._recurse = recurse
        self._hash: str | None = None
        self._filenames: list[str] = self._gather_files()

    def _gather_files(self) -> list[str]:
        files = set(glob_file(f"{self._path}/*.{self._format}"))
        if self._recurse:
            files.update(glob_file(f"{self._path}/**/*.{self._format}"))
        return sorted(files)

    # Setting the path, format or recurse lists the shards again and re-hashes, as in
    # redun.
    @property
    def path(self) -> str:
        return self._path

    @path.setter
    def path(self, path: str) -> None:
        self._path = path.rstrip("/")
        self.update_hash()

    @property
    def format(self) -> str:
        return self._format

    @format.setter
    def format(self, format: str) -> None:
        _check_format(format)
        self._format = format
        self.update_hash()

    @property
    def recurse(self) -> bool:
        return self._recurse

    @recurse.setter
    def recurse(self, recurse: bool) -> None:
        self._recurse = recurse
        self.update_hash()

    @property
    def filenames(self) -> list[str]:
        """The shard files, as listed when the hash was last taken."""
        return self._filenames

    @property
    def hash(self) -> str:
        if self._hash is None:
            self.update_hash()
        assert self._hash is not None
        return self._hash

    def _calc_hash(self) -> str:
        self._filenames = self._gather_files()
        return hash_parts("ShardedS3Dataset", self._path, *self._filenames)

    def update_hash(self) -> None:
        """List the shards again and hash the new listing."""
        self._hash = self._calc_hash()

    def get_hash(self, data: bytes | None = None) -> str:
        return self.hash

    def is_valid(self) -> bool:
        if self._hash is None:
            self.update_hash()
            return True
        return self._hash == self._calc_hash()

    def postprocess(self, postprocess_args: dict) -> ShardedS3Dataset:
        # Returned by a task that may have written shards: list them now.
        self.update_hash()
        return self

    def iter_subvalues(self) -> Iterator[Value]:
        for path in self._filenames:
            yield File(path)

    def __repr__(self) -> str:
        return (
            f"ShardedS3Dataset(path={self._path}, format={self._format}, "
            f"recurse={self._recurse}, hash={self.hash[:8]})"
        )

    def __getstate__(self) -> dict:
        return {
            "path": self._path,
            "format": self._format,
            "recurse": self._recurse,
            "hash": self._hash,
            "files": self._filenames,
        }

    def __setstate__(self, state: dict) -> None:
        self._path = state["path"]
        self._format = state["format"]
        self._recurse = state["recurse"]
        self._hash = state["hash"]
        self._filenames = state["files"]

    def load_pandas(self, max_shards: int = -1) -> Any:
        """The shards concatenated into one pandas DataFrame (needs pandas)."""
        import pandas

        frames = self.load_pandas_shards(max_shards)
        return pandas.concat(frames, ignore_index=True) if frames else pandas.DataFrame()

    def load_pandas_shards(self, max_shards: int = -1) -> list[Any]:
        """One pandas DataFrame per shard (csv, json or parquet; needs pandas)."""
        import pandas

        readers = {"csv": pandas.read_csv, "json": pandas.read_json, "parquet": pandas.read_parquet}
        reader = readers.get(self._format)
        if reader is None:
            raise ValueError(f"cannot load {self._format} shards into pandas")
        paths = self._filenames if max_shards < 0 else self._filenames[:max_shards]
        frames = []
        for path in paths:
            with File(path).open("rb") as stream:
                frames.append(reader(stream))
        return frames

    def load_spark(self, validate: bool = False, format_options: dict | None = None) -> Any:
        """The dataset as a Spark DataFrame, read by the active SparkSession."""
        from pyspark.sql import SparkSession

        session = SparkSession.builder.getOrCreate()
        if validate and not self.is_valid():
            raise ValueError(f"the shards under {self._path} changed since they were hashed")
        path = self._path.replace("s3://", "s3a://", 1)
        reader = session.read.options(**(format_options or {}))
        return reader.format(self._format).load(
            path, **({"recursiveFileLookup": "true"} if self._recurse else {})
        )

    def save_spark(
        self,
        dataset: Any,
        partition_keys: list[str] | None = None,
        catalog_database: str = "default",
        catalog_table: str | None = None,
        format_options: dict | None = None,
    ) -> None:
        """Write a Spark (or pandas) DataFrame as this dataset's shards, replacing them.

        ``partition_keys`` become sub-directories (``K=1/``, ``K=2/``...). Run it in a
        ``spark_driver`` task (its SparkSession writes). ``catalog_database`` and
        ``catalog_table`` name a Glue Data Catalog table in redun; there is no Glue
        here, so no table is made (a warning says so) and the shards are written.
        """
        from redun.glue import get_spark_session

        session = get_spark_session()
        if not hasattr(dataset, "write"):  # a pandas DataFrame
            dataset = session.createDataFrame(dataset)
        options = {"header": "true"} if self._format == "csv" else {}
        options.update(format_options or {})
        writer = dataset.write.mode("overwrite").options(**options)
        if partition_keys:
            writer = writer.partitionBy(*partition_keys)
        writer.format(self._format).save(self._path.replace("s3://", "s3a://", 1))
        if catalog_table:
            import warnings

            warnings.warn(
                f"save_spark: catalog_table={catalog_table!r} (database {catalog_database!r}) "
                "names a Glue Data Catalog table; there is no Glue here, so no table was "
                f"made (the shards are written under {self._path})",
                stacklevel=2,
            )
        self.update_hash()

    @classmethod
    def from_files(
        cls,
        files: list[File],
        format: str | None = None,
        allow_additional_files: bool = False,
    ) -> ShardedS3Dataset:
        """The dataset under the common prefix of ``files``.

        Raises:
            ValueError: no files, files not on S3, mixed extensions, or (unless
                ``allow_additional_files``) the prefix holds other shards too.
            FileNotFoundError: one of the files does not exist.
        """
        if not files:
            raise ValueError("cannot make a ShardedS3Dataset from no files")
        if not all(file.path.startswith("s3://") for file in files):
            raise ValueError("every file of a ShardedS3Dataset must be on S3 (s3://)")
        for file in files:
            if not file.exists():
                raise FileNotFoundError(f"{file.path} does not exist; a dataset needs its shards")
        keys = [file.path[len("s3://") :] for file in files]
        if len(keys) == 1:
            root = os.path.dirname(keys[0])
        else:
            root = os.path.commonpath(keys)
        if not format:
            formats = {os.path.splitext(file.path)[1].lstrip(".") for file in files}
            if len(formats) != 1:
                raise ValueError(
                    f"the files have extensions {sorted(formats)}; give format= explicitly"
                )
            format = formats.pop()
        dataset = cls(f"s3://{root}", format=format, recurse=True)
        if not allow_additional_files:
            extra = set(dataset.filenames) - {file.path for file in files}
            if extra:
                raise ValueError(
                    f"the dataset would also hold {sorted(extra)}; "
                    "pass allow_additional_files=True to accept them"
                )
        return dataset
