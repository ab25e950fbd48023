"""What ``[executors.NAME]`` says about Spark, parsed and checked without starting anything.

Both Spark executor types (``spark`` and ``spark_driver``) read the same keys;
one scheduler has one SparkSession, so the session is built from the merged
settings of the executors that use it (:func:`merge`)::

    [executors.spark]
    type = spark
    master = local[*]              # local[N], spark://host:port, yarn, k8s://https://host:port
    partitions = 8                 # per call batch (default: the session's default parallelism)
    python = /opt/venv/bin/python  # the executors' interpreter (spark.pyspark.python)
    conf = spark.executor.memory=2g
           spark.sql.shuffle.partitions=16

Everything here is pure: no pyspark, no JVM, no network (see :mod:`.preflight`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from redun.config import parse_flag
from redun.errors import UsageError

DEFAULT_MASTER = "local[*]"
DEFAULT_APP_NAME = "redun"

_LOCAL = re.compile(r"^local(\[(\*|\d+)(,\s*\d+)?\])?$")
_LOCAL_CLUSTER = re.compile(r"^local-cluster\[\d+,\s*\d+,\s*\d+\]$")
_STANDALONE = re.compile(r"^spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*/?$")
_K8S = re.compile(r"^k8s://(https?://)?[^\s/]+(:\d+)?/?$")

KNOWN_KEYS = frozenset(
    {
        "type",
        "class",
        "master",
        "conf",
        "partitions",
        "python",
        "app_name",
        "keep_warm",
        "progress_interval",
        "code_root",
        "code_includes",
        "code_excludes",
        "echo",
    }
)


@dataclass(frozen=True)
class SparkSettings:
    """How to build (or check) the SparkSession, and how to split call batches.

    ``conf`` is Spark configuration as ``(key, value)`` pairs, sorted;
    ``sources`` names the executor sections the settings came from (messages).
    """

    master: str = DEFAULT_MASTER
    conf: tuple[tuple[str, str], ...] = ()
    partitions: int | None = None
    python: str = ""
    app_name: str = DEFAULT_APP_NAME
    keep_warm: bool = True
    progress_interval: float = 1.0
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_local(self) -> bool:
        """True for ``local``/``local[N]`` masters: the driver binds to loopback."""
        return self.master.startswith("local")

    def session_conf(self) -> dict[str, str]:
        """The Spark configuration the session is built with (``conf`` plus derived keys)."""
        conf = dict(self.conf)
        if self.python:
            conf.setdefault("spark.pyspark.python", self.python)
        if self.is_local:
            # A local session has no business listening beyond this machine.
            conf.setdefault("spark.driver.host", "127.0.0.1")
            conf.setdefault("spark.driver.bindAddress", "127.0.0.1")
        conf.setdefault("spark.ui.showConsoleProgress", "false")
        return conf

    def fingerprint(self) -> tuple:
        """What must match for a running session to serve these settings."""
        return (self.master, tuple(sorted(self.session_conf().items())), self.app_name)


def check_master(master: str, where: str) -> str:
    """``master`` if it is a master URL Spark understands, else a :class:`UsageError`."""
    master = master.strip()
    if (
        _LOCAL.match(master)
        or _LOCAL_CLUSTER.match(master)
        or _STANDALONE.match(master)
        or _K8S.match(master)
        or master == "yarn"
    ):
        return master
    raise UsageError(
        f"{where}: master = {master!r} is not a Spark master URL; use local[*], local[N], "
        "spark://HOST:PORT, yarn or k8s://https://HOST:PORT"
    )


def parse_conf(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` pairs, one per line (or a dict), as sorted pairs.

    Raises:
        UsageError: a line without ``=``, or a key that is not a ``spark.``/``hadoop.`` key.
    """
    if value is None or value == "":
        return ()
    items: list[tuple[str, str]] = []
    if isinstance(value, dict):
        items = [(str(k).strip(), str(v).strip()) for k, v in value.items()]
    else:
        for line in str(value).replace(";", "\n").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, val = line.partition("=")
            if not sep or not key.strip():
                raise UsageError(
                    f"{where}: conf line {line!r} is not KEY=VALUE "
                    "(e.g. conf = spark.executor.memory=2g)"
                )
            items.append((key.strip(), val.strip()))
    for key, _ in items:
        if not key.startswith(("spark.", "hadoop.")):
            raise UsageError(
                f"{where}: conf key {key!r} is not a Spark setting (keys start with spark.)"
            )
    return tuple(sorted(dict(items).items()))


def _positive_int(value: Any, key: str, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise UsageError(f"{where}: {key} = {value!r} is not a whole number") from None
    if number < 1:
        raise UsageError(f"{where}: {key} = {value!r} must be at least 1")
    return number


def _bool(value: Any, key: str, where: str, default: bool) -> bool:
    return parse_flag(value, default, f"{where}: {key}")


def settings_from_config(name: str, section: dict[str, Any]) -> SparkSettings:
    """The settings of ``[executors.NAME]``.

    Raises:
        UsageError: an unknown key, a bad master URL, a malformed conf line or number.
    """
    where = f"[executors.{name}]"
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(unknown)}; Spark executors take "
            f"{', '.join(sorted(KNOWN_KEYS - {'type', 'class'}))}"
        )
    master = check_master(str(section.get("master") or DEFAULT_MASTER), where)
    interval = section.get("progress_interval")
    try:
        progress = float(interval) if interval not in (None, "") else 1.0
    except ValueError:
        raise UsageError(f"{where}: progress_interval = {interval!r} is not a number") from None
    return SparkSettings(
        master=master,
        conf=parse_conf(section.get("conf"), where),
        partitions=_positive_int(section.get("partitions"), "partitions", where),
        python=str(section.get("python") or "").strip(),
        app_name=str(section.get("app_name") or DEFAULT_APP_NAME).strip(),
        keep_warm=_bool(section.get("keep_warm"), "keep_warm", where, True),
        progress_interval=max(0.05, progress),
        sources=(where,),
    )


def merge(first: SparkSettings, second: SparkSettings) -> SparkSettings:
    """The session settings serving both: one scheduler has one SparkSession.

    ``partitions`` and ``progress_interval`` stay per executor (the first's
    are kept here); the session-level keys must agree.

    Raises:
        UsageError: the two name different masters, python or conflicting conf values.
    """
    both = " and ".join(first.sources + second.sources)
    if first.master != second.master:
        raise UsageError(
            f"{both} name different masters ({first.master!r}, {second.master!r}); "
            "both executors share one SparkSession: give them the same master"
        )
    if first.python and second.python and first.python != second.python:
        raise UsageError(
            f"{both} name different python ({first.python!r}, {second.python!r}); "
            "they share one SparkSession"
        )
    conf = dict(first.conf)
    for key, value in second.conf:
        if key in conf and conf[key] != value:
            raise UsageError(
                f"{both} set {key} differently ({conf[key]!r}, {value!r}); "
                "they share one SparkSession"
            )
        conf[key] = value
    return replace(
        first,
        conf=tuple(sorted(conf.items())),
        python=first.python or second.python,
        keep_warm=first.keep_warm and second.keep_warm,
        sources=first.sources + second.sources,
    )
