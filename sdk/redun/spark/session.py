"""The SparkSession: one per process, shared by the schedulers and executors that use it.

Spark allows one SparkContext per process, so this module keeps one
:class:`LocalDriver` per process. Executors ``acquire`` it (the first
acquisition checks the setup and starts the session) and ``release`` it when
their scheduler stops; the last release stops the session, unless it was
already running when redun first needed it (a notebook's, a test's): redun
then uses it as it is and never stops it.

``get_spark_session()`` returns the session inside a task run by a
``spark_driver`` executor (a ``ContextVar`` set around the task).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from redun.spark.errors import NoSparkSession, SparkSetupError
from redun.spark.preflight import preflight
from redun.spark.progress import NOTHING, GroupProgress, read_group
from redun.spark.settings import SparkSettings
from redun.spark.worker import Call, Part, PartOutcomes, run_slice, zip_name

if TYPE_CHECKING:
    from redun.executors.remote.package import CodePackage

logger = logging.getLogger("redun.spark")

_current_session: ContextVar[Any] = ContextVar("redun_spark_session", default=None)


def get_spark_session() -> Any:
    """The SparkSession of the ``spark_driver`` task running in this context.

    Raises:
        NoSparkSession: not inside a task run by a ``spark_driver`` executor.
    """
    session = _current_session.get()
    if session is None:
        raise NoSparkSession()
    return session


@contextmanager
def session_scope(session: Any) -> Iterator[Any]:
    """``get_spark_session()`` returns ``session`` inside this block."""
    token = _current_session.set(session)
    try:
        yield session
    finally:
        _current_session.reset(token)


class LocalDriver:
    """This process's SparkSession and what redun does with it (the Spark driver's side)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.session: Any = None
        self.settings: SparkSettings | None = None
        self.owned = False
        self.users: set[int] = set()
        self._packages: dict[str, str] = {}
        self._package_dir: str | None = None
        self.startup_seconds = 0.0
        self.batch_seconds = 0.0
        """Wall time spent in call batches' Spark jobs (a benchmark's figure)."""

    # -- the session's life ---------------------------------------------------------
    def acquire(self, user: object, settings: SparkSettings) -> Any:
        """The session for ``user`` (an executor), started with ``settings`` if none runs.

        Raises:
            SparkSetupError: no pyspark, no Java, an unreachable master, or a start that failed;
                or another user holds a session with other settings.
        """
        with self._lock:
            if self.session is not None and not _alive(self.session):
                self._forget()
            if self.session is None:
                self._start(settings)
            elif self.owned and self.settings is not None:
                if self.settings.fingerprint() != settings.fingerprint():
                    if self.users - {id(user)}:
                        raise SparkSetupError(
                            f"{' and '.join(settings.sources) or 'this executor'}: this process "
                            f"already runs a SparkSession with other settings (master "
                            f"{self.settings.master}); one process has one SparkSession"
                        )
                    self._stop_session()
                    self._start(settings)
            self.users.add(id(user))
            return self.session

    def release(self, user: object) -> None:
        """``user`` is done; the last user stops the session redun started."""
        with self._lock:
            self.users.discard(id(user))
            if not self.users and self.owned:
                self._stop_session()

    def _start(self, settings: SparkSettings) -> None:
        where = " and ".join(settings.sources) or "Spark"
        # Python workers of a local master start from this environment: without a
        # python setting they run this interpreter (where redun is), not PATH's python3.
        python = settings.python or (sys.executable if settings.is_local else "")
        if python:
            os.environ.setdefault("PYSPARK_PYTHON", python)
        adopted = _active_session()
        if adopted is not None:
            self.session, self.owned, self.settings = adopted, False, settings
            logger.info("using the SparkSession already running in this process")
            return
        preflight(settings, where)
        if settings.is_local:
            # The web UI binds where SPARK_LOCAL_IP says; keep a local session on loopback.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        started = time.monotonic()
        try:
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
            conf = settings.session_conf()
            options = driver_java_options(conf, os.environ)
            if options is not None:
                conf[JAVA_OPTIONS] = options
            for key, value in conf.items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
        except Exception as exc:
            raise SparkSetupError(
                f"{where}: the SparkSession (master {settings.master}) did not start: "
                f"{_first_line(exc)}"
            ) from exc
        self.startup_seconds = time.monotonic() - started
        self.session, self.owned, self.settings = session, True, settings

    def _stop_session(self) -> None:
        session = self.session
        self._forget()
        if session is not None:
            try:
                session.stop()
            except Exception as error:
                logger.warning("stopping the SparkSession failed: %s", error)

    def _forget(self) -> None:
        self.session = None
        self.settings = None
        self.owned = False
        self._packages.clear()

    @property
    def spark_context(self) -> Any:
        if self.session is None:
            raise SparkSetupError("the SparkSession is not running")
        return self.session.sparkContext

    @property
    def ui_url(self) -> str:
        """The Spark UI's address ("" when the UI is off)."""
        try:
            return str(self.spark_context.uiWebUrl or "")
        except Exception:
            return ""

    @property
    def default_parallelism(self) -> int:
        return int(self.spark_context.defaultParallelism)

    # -- code ----------------------------------------------------------------------------
    def add_package(self, package: CodePackage) -> str:
        """Ship a code package (zipped) to the executors once; returns the name it goes by."""
        name = zip_name(package.digest)
        with self._lock:
            if name in self._packages:
                return name
            if self._package_dir is None:
                self._package_dir = tempfile.mkdtemp(prefix="redun-spark-code-")
            path = os.path.join(self._package_dir, name)
            if not os.path.exists(path):
                from redun.executors.remote.package import as_zip

                with open(path + ".tmp", "wb") as out:
                    out.write(as_zip(package))
                os.replace(path + ".tmp", path)
            self.spark_context.addPyFile(path)
            self._packages[name] = path
            return name

    # -- jobs -----------------------------------------------------------------------------
    def run_batch(
        self,
        group: str,
        description: str,
        package: str,
        headers: list[dict[str, Any]],
        calls: list[Call],
        partitions: int,
        deliver: Callable[[int, list[Any]], None],
    ) -> None:
        """Run the calls as one Spark job in job group ``group``; as each partition's
        Spark task ends, ``deliver(start, outcomes)`` gets its calls' outcomes (``start``:
        the index of its first call in ``calls``; see :func:`redun.spark.worker.run_calls`).

        Blocks this thread until the job ends and every partition's outcomes were
        delivered (on a thread of its own, in the order the partitions end). Raises
        what Spark raised if the job itself failed (cancelled, executors lost): the
        partitions delivered before stay delivered.
        """
        context = self.spark_context
        partitions = max(1, min(partitions, len(calls)))
        # One element per partition (its whole slice of calls): Spark pickles P lists
        # instead of N small tuples.
        size, extra = divmod(len(calls), partitions)
        slices, start = [], 0
        for index in range(partitions):
            end = start + size + (1 if index < extra else 0)
            slices.append((start, calls[start:end]))
            start = end
        arrived: SimpleQueue[list[Part] | None] = SimpleQueue()
        with _accumulators_lock:  # pyspark numbers accumulators without a lock
            parts = context.accumulator([], PartOutcomes(arrived.put))
        delivered: set[int] = set()  # the parts' starts (a repeated part is dropped)
        failures: list[BaseException] = []

        def hand_over() -> None:
            # Off Spark's accumulator thread, which waits for nothing but the queue.
            while (term := arrived.get()) is not None:
                for part_group, start, outcomes in term:
                    if part_group != group or start in delivered or failures:
                        continue  # another batch's (never expected), again, or too late
                    delivered.add(start)
                    try:
                        deliver(start, outcomes)
                    except BaseException as error:  # noqa: BLE001 - reported below
                        failures.append(error)

        consumer = threading.Thread(target=hand_over, name=f"redun-spark-{group}", daemon=True)
        consumer.start()
        started = time.monotonic()
        context.setJobGroup(group, description, interruptOnCancel=True)
        try:
            rdd = context.parallelize(slices, partitions)
            run = functools.partial(run_slice, package, group, headers, parts)
            rdd.map(run).collect()  # each partition's count: the outcomes go by `parts`
        finally:
            _clear_job_group(context)
            arrived.put(None)
            consumer.join()
            _forget_accumulator(parts)
            self.batch_seconds += time.monotonic() - started
        if failures:
            raise failures[0]
        missing = [len(part) for start, part in slices if start not in delivered]
        if missing:
            raise RuntimeError(
                f"Spark job group {group}: the outcomes of {sum(missing)} call(s) of "
                f"{len(missing)} partition(s) never reached the driver"
            )

    @contextmanager
    def in_group(self, group: str, description: str) -> Iterator[Any]:
        """Run this thread's Spark actions in job group ``group`` (a driver task)."""
        context = self.spark_context
        context.setJobGroup(group, description, interruptOnCancel=True)
        try:
            with session_scope(self.session):
                yield self.session
        finally:
            _clear_job_group(context)

    def run_task(self, executor: Any, job: Any, group: str, description: str) -> None:
        """Run a driver task's function here, in job group ``group``, with the session in scope.

        The outcome goes to the scheduler as for any local job (with live output).
        """
        scheduler = executor.scheduler
        try:
            with self.in_group(group, description):
                scheduler.run_job_function(job)
        except Exception as error:  # setting the group failed: the session is gone
            scheduler.reject_job(job, error)

    def cancel_group(self, group: str) -> None:
        """Cancel every Spark job of ``group`` (running or about to start)."""
        session = self.session
        if session is not None:
            session.sparkContext.cancelJobGroup(group)

    def progress(self, groups: list[str]) -> dict[str, GroupProgress]:
        """What each group's Spark jobs are doing."""
        session = self.session
        if session is None:
            return {group: NOTHING for group in groups}
        context = session.sparkContext
        return {group: read_group(context, group) for group in groups}


JAVA_OPTIONS = "spark.driver.extraJavaOptions"

#: The driver's log4j configuration when nothing else gives one (see the file).
QUIET_LOG4J = os.path.join(os.path.dirname(__file__), "log4j2.properties")


def driver_java_options(conf: dict[str, str], environ: Mapping[str, str]) -> str | None:
    """``spark.driver.extraJavaOptions`` with redun's quiet log4j configuration added, or
    None to leave it as it is: the user configures log4j (in those options, or with a
    log4j2 file in ``SPARK_CONF_DIR`` or ``$SPARK_HOME/conf``), their
    ``spark-defaults.conf`` there sets driver Java options (ours would replace them),
    or the path would not survive Spark's splitting of the options on spaces."""
    options = conf.get(JAVA_OPTIONS, "")
    if "log4j" in options or any(char.isspace() for char in QUIET_LOG4J):
        return None
    conf_dir = environ.get("SPARK_CONF_DIR")
    if not conf_dir:
        home = environ.get("SPARK_HOME")
        if not home:
            import importlib.util

            spec = importlib.util.find_spec("pyspark")
            home = os.path.dirname(spec.origin) if spec and spec.origin else ""
        conf_dir = os.path.join(home, "conf") if home else ""
    try:
        names = os.listdir(conf_dir) if conf_dir else []
        if any(name.startswith("log4j2") for name in names):
            return None
        if "spark-defaults.conf" in names:
            with open(os.path.join(conf_dir, "spark-defaults.conf")) as defaults:
                # Options given here would replace the driver's options set there.
                if "JavaOptions" in defaults.read():
                    return None
    except OSError:
        pass  # no conf directory: Spark would use its default profile
    return f"{options} -Dlog4j2.configurationFile=file:{QUIET_LOG4J}".strip()


def _forget_accumulator(accumulator: Any) -> None:
    """Drop a batch's accumulator from pyspark's registry (it is not used again)."""
    try:
        from pyspark.accumulators import _accumulatorRegistry

        _accumulatorRegistry.pop(accumulator.aid, None)
    except Exception:
        pass


def _clear_job_group(context: Any) -> None:
    try:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)
    except Exception:
        pass


def _alive(session: Any) -> bool:
    try:
        return not session.sparkContext._jsc.sc().isStopped()
    except Exception:
        return False


def _active_session() -> Any:
    """A SparkSession someone else started in this process, if any."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark import SparkContext

    if SparkContext._active_spark_context is None:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:500]


_driver: LocalDriver | None = None
_driver_lock = threading.Lock()
_accumulators_lock = threading.Lock()


def local_driver() -> LocalDriver:
    """This process's driver."""
    global _driver
    with _driver_lock:
        if _driver is None:
            _driver = LocalDriver()
        return _driver
