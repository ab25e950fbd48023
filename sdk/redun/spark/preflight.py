"""Checks made before a SparkSession is started, so a bad setup fails in one line.

Starting a session takes seconds and fails in Java's words (or hangs, for a
standalone master that does not answer). These checks name the problem
first: pyspark missing, no Java or too old a Java, a master that cannot be
reached.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from urllib.parse import urlsplit

from redun.spark.errors import SparkSetupError
from redun.spark.settings import SparkSettings

CONNECT_TIMEOUT = 3.0


def require_pyspark(where: str) -> str:
    """pyspark's version; :class:`SparkSetupError` if it cannot be imported."""
    try:
        import pyspark
    except ImportError as exc:
        raise SparkSetupError(
            f"{where} needs pyspark, which is not installed here: pip install 'redun[spark]' "
            f"({exc})"
        ) from exc
    return str(getattr(pyspark, "__version__", "0"))


def required_java(pyspark_version: str) -> int:
    """The oldest Java major version a pyspark release runs on."""
    major = pyspark_version.split(".", 1)[0]
    return 17 if major.isdigit() and int(major) >= 4 else 8


def find_java(env: Mapping[str, str] | None = None) -> str | None:
    """The ``java`` Spark will launch: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    environ: Mapping[str, str] = os.environ if env is None else env
    home = environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which("java", path=environ.get("PATH", os.defpath))


def parse_java_version(text: str) -> int | None:
    """The major version in ``java -version`` output (``1.8.0_292`` is 8)."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not found:
        return None
    major = int(found.group(1))
    if major == 1 and found.group(2):
        return int(found.group(2))
    return major


def require_java(pyspark_version: str, where: str, env: Mapping[str, str] | None = None) -> str:
    """The path of a Java Spark can run on; :class:`SparkSetupError` naming what to do."""
    environ: Mapping[str, str] = os.environ if env is None else env
    java = find_java(environ)
    needed = required_java(pyspark_version)
    if java is None:
        if environ.get("JAVA_HOME"):
            raise SparkSetupError(
                f"{where}: JAVA_HOME={environ['JAVA_HOME']!r} has no bin/java; Spark "
                f"{pyspark_version} needs Java {needed}+: fix JAVA_HOME"
            )
        raise SparkSetupError(
            f"{where}: Spark needs Java {needed} or later and there is no java on PATH; "
            "install a JRE (e.g. apt-get install default-jre-headless) or set JAVA_HOME"
        )
    try:
        probe = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, env=dict(environ)
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkSetupError(f"{where}: cannot run {java} -version: {exc}") from exc
    version = parse_java_version(probe.stderr + probe.stdout)
    if version is not None and version < needed:
        raise SparkSetupError(
            f"{where}: {java} is Java {version}, but Spark {pyspark_version} needs Java "
            f"{needed} or later; install a newer JRE or point JAVA_HOME at one"
        )
    return java


def master_endpoints(master: str) -> list[tuple[str, int]]:
    """The (host, port) pairs a master URL connects to first; none for local and yarn."""
    if master.startswith("spark://"):
        endpoints = []
        for part in master[len("spark://") :].rstrip("/").split(","):
            host, _, port = part.rpartition(":")
            if not host:
                host, port = part, "7077"
            endpoints.append((host.strip("[]"), int(port or 7077)))
        return endpoints
    if master.startswith("k8s://"):
        url = master[len("k8s://") :]
        if "://" not in url:
            url = "https://" + url
        parts = urlsplit(url)
        default = 443 if parts.scheme == "https" else 80
        return [(parts.hostname or "", parts.port or default)]
    return []


def require_master(
    settings: SparkSettings, where: str, env: Mapping[str, str] | None = None
) -> None:
    """:class:`SparkSetupError` if the master cannot be reached (or, for YARN, found)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    master = settings.master
    if master == "yarn":
        conf = dict(settings.conf)
        if not (
            environ.get("HADOOP_CONF_DIR")
            or environ.get("YARN_CONF_DIR")
            or "spark.hadoop.yarn.resourcemanager.address" in conf
        ):
            raise SparkSetupError(
                f"{where}: master = yarn, but neither HADOOP_CONF_DIR nor YARN_CONF_DIR is set; "
                "point one at your cluster's Hadoop configuration"
            )
        return
    endpoints = master_endpoints(master)
    if not endpoints:
        return
    problems = []
    for host, port in endpoints:
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
                return
        except OSError as exc:
            problems.append(f"{host}:{port}: {exc.strerror or exc}")
    raise SparkSetupError(
        f"{where}: cannot reach the Spark master {master} ({'; '.join(problems)}); "
        "check that it runs and that master = names it"
    )


def preflight(settings: SparkSettings, where: str) -> str:
    """Every check before a session starts; returns pyspark's version."""
    version = require_pyspark(where)
    require_java(version, where)
    require_master(settings, where)
    return version
