"""Paths as Spark names them: ``File``/``Dir`` say ``s3://``, Hadoop's S3 connector ``s3a://``."""

from __future__ import annotations

from typing import Any

_SCHEMES = {"s3": "s3a", "s3n": "s3a"}


def spark_path(value: Any) -> str:
    """The URL Spark reads or writes for a path, ``File`` or ``Dir``.

    ``s3://bucket/key`` becomes ``s3a://bucket/key`` (Hadoop's S3A connector,
    with ``hadoop-aws`` on Spark's classpath); ``gs://`` (the GCS connector),
    local paths and other schemes are unchanged.
    """
    path = str(getattr(value, "path", value))
    scheme, sep, rest = path.partition("://")
    if sep and scheme.lower() in _SCHEMES:
        return f"{_SCHEMES[scheme.lower()]}://{rest}"
    return path
