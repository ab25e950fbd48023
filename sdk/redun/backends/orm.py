"""Read-only SQLAlchemy models of the store, under insitro/redun's names.

For querying provenance in Python as redun's docs show it::

    from redun.backends.db import Execution, Job, Task
    session = scheduler.backend.session
    execution = session.query(Execution).order_by(Execution.updated_time.desc()).first()
    execution.job.call_node.value.value_parsed      # the root job's result
    session.query(Task).filter(Task.name == "link").all()

The models are mapped onto copies of the tables in :mod:`redun.backends.schema`
(timestamps read as UTC datetimes, tag values as JSON) with redun's attribute
names where they differ from our columns (``CallNode.value_hash`` is
``result_hash``, ``Execution.args`` is ``argv``...). Rows are written by the
scheduler's recorder only: flushing a change through this session raises
:class:`~redun.errors.BackendError`.

This module imports SQLAlchemy; :mod:`redun.backends.db` reaches it lazily
(``DbBackend.session`` and the model names), so a run does not pay for it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, event, func, select, type_coerce
from sqlalchemy import types as satypes
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    column_property,
    deferred,
    object_session,
    relationship,
)

from redun.backends import schema
from redun.backends.db import ORM_NAMES
from redun.backends.orm_support import ValuePreview, argument_order, load_value, trim
from redun.errors import BackendError

# The models redun.backends.db hands out by name (its ORM_NAMES), and the preview type.
__all__ = [*sorted(ORM_NAMES), "ValuePreview"]


class EpochUTC(satypes.TypeDecorator):
    """Seconds since the epoch (our Float columns) as timezone-aware UTC datetimes.

    A time read is the stored one cut down to the microsecond, and a datetime given
    in a query becomes the nearest float, so ``Job.start_time >= job.start_time``
    holds for ``job`` itself. A naive datetime counts as local time (as
    ``datetime.timestamp`` takes it).
    """

    impl = satypes.Float
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> float | None:
        if value is None or isinstance(value, (int, float)):
            return value
        if value.tzinfo is None:
            return float(value.timestamp())
        return ((value - _EPOCH) // _MICROSECOND) / 1_000_000

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        numerator, denominator = float(value).as_integer_ratio()
        return _EPOCH + timedelta(microseconds=numerator * 1_000_000 // denominator)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


class JsonText(satypes.TypeDecorator):
    """A JSON document kept as text (tag values), read and compared as Python values."""

    impl = satypes.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        # A tag value is part of the tag's key: the ORM keeps records by key in a dict,
        # so a list or an object comes back as one that hashes (by its JSON text).
        if isinstance(parsed, list):
            return _JsonList(parsed)
        if isinstance(parsed, dict):
            return _JsonDict(parsed)
        return parsed


class _JsonList(list):
    """A list read from JSON that hashes by its content (equal to the plain list)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True))


class _JsonDict(dict):
    """A dict read from JSON that hashes by its content (equal to the plain dict)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True))


class TypeName(satypes.TypeDecorator):
    """A value's type name as redun spells it: ``builtins.int`` for what the store
    keeps as ``int``; either spelling works in a query."""

    impl = satypes.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, str) and value.startswith("builtins."):
            return value[len("builtins.") :]
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, str) and value and "." not in value:
            return "builtins." + value
        return value


# Copies of the store's tables with the column types the models read through; the
# schema's own tables (used to create, migrate and write the store) stay as they are.
metadata = MetaData()
_TYPES = {
    ("redun_execution", "start_time"): EpochUTC,
    ("redun_execution", "end_time"): EpochUTC,
    ("redun_job", "start_time"): EpochUTC,
    ("redun_job", "end_time"): EpochUTC,
    ("redun_call_node", "time"): EpochUTC,
    ("redun_evaluation", "time"): EpochUTC,
    ("redun_tag", "value"): JsonText,
    ("redun_value", "type_name"): TypeName,
}
for _table in schema.metadata.sorted_tables:
    _table.to_metadata(metadata)
for (_name, _column), _type in _TYPES.items():
    metadata.tables[_name].c[_column].type = _type()
_t = metadata.tables


class Base(DeclarativeBase):
    metadata = metadata


def _session(record: Any) -> RedunSession:
    session = object_session(record)
    if not isinstance(session, RedunSession):
        raise BackendError(
            f"{type(record).__name__} is not attached to a redun session: query it through "
            "scheduler.backend.session"
        )
    return session


def _one(target: str, join: str) -> Any:
    """A read-only relationship to one ``target`` record (or None)."""
    return relationship(target, primaryjoin=join, viewonly=True, uselist=False)


def _many(target: str, join: str, **options: Any) -> Any:
    """A read-only relationship to a list of ``target`` records."""
    return relationship(target, primaryjoin=join, viewonly=True, **options)


def _tags(entity_type: str, owner: str, key: str) -> Any:
    return _many(
        "Tag",
        f"and_({owner}.{key} == foreign(Tag.entity_id), Tag.entity_type == '{entity_type}')",
    )


def _upper(state: str | None) -> str:
    return (state or "running").upper()


def _upper_sql(state: Any) -> Any:
    return func.upper(func.coalesce(state, "running"))


class Execution(Base):
    """A run: ``redun run`` (or ``Scheduler.run``) of one expression."""

    __table__ = _t["redun_execution"]
    args: Mapped[str | None] = column_property(__table__.c.argv)  # JSON list, as redun's
    job_id: Mapped[str | None] = column_property(__table__.c.root_job_id)
    state: Mapped[str | None] = column_property(__table__.c.status)  # running, done...
    if TYPE_CHECKING:
        id: Mapped[str]
        expr: Mapped[str | None]
        start_time: Mapped[datetime | None]
        end_time: Mapped[datetime | None]
        error: Mapped[str | None]
        user: Mapped[str | None]
        host: Mapped[str | None]
        pid: Mapped[int | None]
        cwd: Mapped[str | None]
    # redun's time of the last change: when the run ended, or started if it has not.
    updated_time: Mapped[datetime | None] = column_property(
        type_coerce(func.coalesce(__table__.c.end_time, __table__.c.start_time), EpochUTC())
    )

    job = _one("Job", "foreign(Execution.job_id) == Job.id")
    jobs = _many("Job", "Execution.id == foreign(Job.execution_id)", order_by="Job.start_time")
    tags = _tags("execution", "Execution", "id")

    @property
    def call_node(self) -> CallNode | None:
        return self.job.call_node if self.job is not None else None

    @property
    def task(self) -> Task | None:
        return self.job.task if self.job is not None else None

    @hybrid_property
    def status(self) -> str:
        """RUNNING, DONE, FAILED or CANCELLED (usable in queries too)."""
        return _upper(self.state)

    @status.inplace.expression
    @classmethod
    def _status_expression(cls) -> Any:
        return _upper_sql(cls.state)

    def __repr__(self) -> str:
        task = self.task
        return (
            f"Execution(id='{self.id[:8]}', task_name='{task.fullname if task else None}', "
            f"args={self.args})"
        )


class Job(Base):
    """One evaluation of a call within an execution (cached or run)."""

    __table__ = _t["redun_job"]
    if TYPE_CHECKING:
        id: Mapped[str]
        execution_id: Mapped[str]
        parent_id: Mapped[str | None]
        task_name: Mapped[str | None]
        task_hash: Mapped[str | None]
        eval_hash: Mapped[str | None]
        call_hash: Mapped[str | None]
        arg_hashes: Mapped[str | None]
        state: Mapped[str | None]  # pending, queued, running, cached, done, failed, cancelled
        cached: Mapped[bool | None]
        reason: Mapped[str | None]
        executor: Mapped[str | None]
        start_time: Mapped[datetime | None]
        end_time: Mapped[datetime | None]
        error: Mapped[str | None]
        traceback: Mapped[str | None]

    task = _one("Task", "foreign(Job.task_hash) == Task.hash")
    call_node = _one("CallNode", "foreign(Job.call_hash) == CallNode.call_hash")
    parent_job = _one("Job", "foreign(Job.parent_id) == remote(Job.id)")
    child_jobs = _many("Job", "Job.id == foreign(remote(Job.parent_id))", order_by="Job.start_time")
    execution = _one("Execution", "foreign(Job.execution_id) == Execution.id")
    logs = _many("JobLog", "Job.id == foreign(JobLog.job_id)", order_by="JobLog.position")
    tags = _tags("job", "Job", "id")

    @property
    def duration(self) -> timedelta | None:
        """How long the job took (None while it runs)."""
        if self.end_time is None or self.start_time is None:
            return None
        return self.end_time - self.start_time

    @hybrid_property
    def status(self) -> str:
        """DONE, CACHED, FAILED, CANCELLED, RUNNING, QUEUED or PENDING (usable in queries)."""
        return _upper(self.state)

    @status.inplace.expression
    @classmethod
    def _status_expression(cls) -> Any:
        return _upper_sql(cls.state)

    def __repr__(self) -> str:
        start = self.start_time.strftime("%Y-%m-%d %H:%M:%S") if self.start_time else None
        return f"Job(id='{self.id[:8]}', start_time='{start}', task_name={self.task_name!r})"


class JobLog(Base):
    """A chunk of what a job wrote (stdout or stderr), in order."""

    __table__ = _t["redun_job_log"]
    if TYPE_CHECKING:
        job_id: Mapped[str]
        position: Mapped[int]
        stream: Mapped[str | None]
        text: Mapped[str | None]

    def __repr__(self) -> str:
        text = trim(self.text or "")
        return f"JobLog(job_id='{self.job_id[:8]}', stream={self.stream!r}, text={text!r})"


class Task(Base):
    """A version of a task: its hash, names and source."""

    __table__ = _t["redun_task"]
    if TYPE_CHECKING:
        hash: Mapped[str]
        fullname: Mapped[str]
        namespace: Mapped[str | None]
        name: Mapped[str | None]
        version: Mapped[str | None]
        source: Mapped[str | None]
        code_parts: Mapped[str | None]

    call_nodes = _many("CallNode", "Task.hash == foreign(CallNode.task_hash)")
    jobs = _many("Job", "Task.hash == foreign(Job.task_hash)")
    tags = _tags("task", "Task", "hash")

    def show_source(self) -> None:
        print(self.source)

    def __repr__(self) -> str:
        return f"Task(hash='{self.hash[:8]}', name='{self.fullname}')"


class Value(Base):
    """A value by hash: its type, and its pickle (inline or in the value store)."""

    __table__ = _t["redun_value"]
    value_hash: Mapped[str] = column_property(__table__.c.hash)
    type: Mapped[str | None] = column_property(__table__.c.type_name)
    value: Mapped[bytes | None] = deferred(__table__.c.data)  # the pickle, if kept inline
    preview_text: Mapped[str | None] = column_property(__table__.c.preview)
    if TYPE_CHECKING:
        format: Mapped[str | None]
        location: Mapped[str | None]  # inline, or store (the value store)
        size: Mapped[int | None]
        needs_check: Mapped[bool | None]

    file = _one("File", "Value.value_hash == foreign(File.value_hash)")
    children = relationship(
        "Value",
        secondary=_t["redun_subvalue"],
        primaryjoin="Value.value_hash == Subvalue.parent_value_hash",
        secondaryjoin="Subvalue.value_hash == Value.value_hash",
        viewonly=True,
    )
    parents = relationship(
        "Value",
        secondary=_t["redun_subvalue"],
        primaryjoin="Value.value_hash == Subvalue.value_hash",
        secondaryjoin="Subvalue.parent_value_hash == Value.value_hash",
        viewonly=True,
    )
    arguments = _many("Argument", "Value.value_hash == foreign(Argument.value_hash)")
    results = _many("CallNode", "Value.value_hash == foreign(CallNode.value_hash)")
    tags = _tags("value", "Value", "value_hash")

    @property
    def value_parsed(self) -> Any:
        """The value, unpickled (a :class:`ValuePreview` if its class cannot be loaded,
        None if its pickle is in a value store this machine cannot read)."""
        return load_value(self, _session(self).backend.value_store)

    @property
    def preview(self) -> Any:
        """The value if it is small enough to load (1 MB), else its recorded preview."""
        if (self.size or 0) > 1_000_000:
            return ValuePreview(self.type, self.preview_text, self.size)
        return self.value_parsed

    @property
    def in_value_store(self) -> bool:
        return self.location == "store"

    def __repr__(self) -> str:
        return f"Value(hash='{self.value_hash[:8]}', value={trim(repr(self.preview))})"


class Subvalue(Base):
    """A value held inside another (a File in a list)."""

    __table__ = _t["redun_subvalue"]
    parent_value_hash: Mapped[str] = column_property(__table__.c.parent_hash)
    value_hash: Mapped[str] = column_property(__table__.c.child_hash)

    parent = _many("Value", "foreign(Subvalue.parent_value_hash) == Value.value_hash")
    child = _many("Value", "foreign(Subvalue.value_hash) == Value.value_hash")


class File(Base):
    """A File or Dir value: its path and content hash."""

    __table__ = _t["redun_file"]
    if TYPE_CHECKING:
        value_hash: Mapped[str]
        path: Mapped[str]
        file_hash: Mapped[str | None]
        size: Mapped[int | None]
        kind: Mapped[str | None]  # file, dir

    value = _one("Value", "foreign(File.value_hash) == Value.value_hash")

    def __repr__(self) -> str:
        return f"File(hash='{self.value_hash[:8]}', path='{self.path}')"


class CallEdge(Base):
    """A parent call's child call, by position."""

    __table__ = _t["redun_call_edge"]
    parent_id: Mapped[str] = column_property(__table__.c.parent_call_hash)
    child_id: Mapped[str] = column_property(__table__.c.child_call_hash)
    call_order: Mapped[int] = column_property(__table__.c.position)

    parent_node = _many("CallNode", "foreign(CallEdge.parent_id) == CallNode.call_hash")
    child_node = _many("CallNode", "foreign(CallEdge.child_id) == CallNode.call_hash")


class Argument(Base):
    """An argument of a call: the parameter's name and the value passed."""

    __table__ = _t["redun_argument"]
    if TYPE_CHECKING:
        call_hash: Mapped[str]
        name: Mapped[str]
        value_hash: Mapped[str]

    value = _one("Value", "foreign(Argument.value_hash) == Value.value_hash")
    call_node = _one("CallNode", "foreign(Argument.call_hash) == CallNode.call_hash")

    @property
    def arg_key(self) -> str:
        """The parameter's name (we record every argument by name)."""
        return self.name

    @property
    def arg_position(self) -> int | None:
        """The parameter's place in the task's signature (None for keyword-only ones)."""
        task = self.call_node.task if self.call_node is not None else None
        order = argument_order(task.source if task is not None else None)
        return order.positions.get(self.name)

    @property
    def value_parsed(self) -> Any:
        return self.value.value_parsed if self.value is not None else None

    def __repr__(self) -> str:
        return (
            f"Argument(task_name='{self.call_node.task_name if self.call_node else None}', "
            f"pos={self.name}, value={trim(str(self.value_parsed))})"
        )


class Evaluation(Base):
    """A cache entry: an eval hash (task hash and argument hashes) and its latest call."""

    __table__ = _t["redun_evaluation"]
    if TYPE_CHECKING:
        eval_hash: Mapped[str]
        call_hash: Mapped[str]
        time: Mapped[datetime | None]

    call_node = _one("CallNode", "foreign(Evaluation.call_hash) == CallNode.call_hash")

    @property
    def value(self) -> Value | None:
        return self.call_node.value if self.call_node is not None else None

    @property
    def value_parsed(self) -> Any:
        value = self.value
        return value.value_parsed if value is not None else None


class CallNode(Base):
    """A call: a task version applied to argument values, its result and child calls."""

    __table__ = _t["redun_call_node"]
    value_hash: Mapped[str] = column_property(__table__.c.result_hash)
    timestamp: Mapped[datetime | None] = column_property(__table__.c.time)
    if TYPE_CHECKING:
        call_hash: Mapped[str]
        task_hash: Mapped[str]
        task_name: Mapped[str]
        args_hash: Mapped[str]
        eval_hash: Mapped[str]
        result_needs_check: Mapped[bool | None]
        arg_hashes: Mapped[str | None]
        expr_hash: Mapped[str | None]
        cacheable: Mapped[bool | None]
        context_reads: Mapped[str | None]

    task = _one("Task", "foreign(CallNode.task_hash) == Task.hash")
    value = _one("Value", "foreign(CallNode.value_hash) == Value.value_hash")
    argument_rows = _many("Argument", "CallNode.call_hash == foreign(Argument.call_hash)")
    child_edges = _many(
        "CallEdge",
        "CallNode.call_hash == foreign(CallEdge.parent_id)",
        order_by="CallEdge.call_order",
    )
    parent_edges = _many("CallEdge", "CallNode.call_hash == foreign(CallEdge.child_id)")
    jobs = _many("Job", "CallNode.call_hash == foreign(Job.call_hash)")

    @property
    def arguments(self) -> list[Argument]:
        """The arguments in the order of the task's parameters."""
        order = argument_order(self.task.source if self.task is not None else None)
        return sorted(self.argument_rows, key=lambda arg: order.sort_key(arg.name))

    @property
    def children(self) -> list[CallNode]:
        """The calls made under this one, in order (a call made twice appears twice)."""
        return self._related(CallEdge.parent_id, CallEdge.child_id)

    @property
    def parents(self) -> list[CallNode]:
        """The calls this one was made under."""
        return self._related(CallEdge.child_id, CallEdge.parent_id)

    def _related(self, mine: Any, theirs: Any) -> list[CallNode]:
        query = (
            select(CallNode)
            .join(CallEdge, theirs == CallNode.call_hash)
            .where(mine == self.call_hash)
            .order_by(CallEdge.parent_id, CallEdge.call_order)
        )
        return list(_session(self).scalars(query))

    @property
    def value_parsed(self) -> Any:
        return self.value.value_parsed if self.value is not None else None

    @property
    def args_display(self) -> str:
        return trim(repr([arg.value_parsed for arg in self.arguments]))

    def __repr__(self) -> str:
        return (
            f"CallNode(hash='{self.call_hash[:8]}', task_name='{self.task_name}', "
            f"args={self.args_display})"
        )


class Tag(Base):
    """A key and a JSON value on an execution, job, value or task."""

    __table__ = _t["redun_tag"]
    if TYPE_CHECKING:
        entity_type: Mapped[str]  # execution, job, value, task
        entity_id: Mapped[str]
        key: Mapped[str]
        value: Mapped[Any]

    @property
    def base_key(self) -> str:
        """The key without its namespace: ``user`` of ``redun.sub.user``."""
        return self.key.rpartition(".")[2]

    @property
    def namespace(self) -> str:
        """The key's namespace: ``redun.sub`` of ``redun.sub.user`` ("" for none)."""
        return self.key.rpartition(".")[0]

    @property
    def entity(self) -> Any:
        """The tagged execution, job, value or task (None if it is not in the store)."""
        model = {"execution": Execution, "job": Job, "value": Value, "task": Task}.get(
            self.entity_type
        )
        return _session(self).get(model, self.entity_id) if model is not None else None

    def __repr__(self) -> str:
        return (
            f"Tag(entity_type='{self.entity_type}', entity_id='{self.entity_id[:8]}', "
            f"key='{self.key}', value={self.value!r})"
        )


class RedunSession(Session):
    """A session on a :class:`~redun.backends.db.DbBackend`'s database, for reading.

    Args:
        backend: the backend; values are loaded through its value store.
    """

    def __init__(self, backend: Any) -> None:
        super().__init__(bind=backend.engine, autoflush=False)
        self.backend = backend

    # Each query starts a fresh read, as redun's session (the writer's own) sees what
    # the runs since the last one recorded: a read transaction left open would keep
    # showing the database as it was (a snapshot, on SQLite's WAL). Loaded objects are
    # expired by this and reload on their next use.
    def query(self, *entities: Any, **kwargs: Any) -> Any:
        self._fresh_read()
        return super().query(*entities, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self._fresh_read()
        return super().get(*args, **kwargs)

    def _fresh_read(self) -> None:
        if self.in_transaction() and not (self.new or self.dirty or self.deleted):
            self.rollback()


@event.listens_for(RedunSession, "before_flush")
def _read_only(session: Session, context: Any, instances: Any) -> None:
    raise BackendError(
        "the provenance models are read-only: runs record through the scheduler, tags "
        "through `redun tag add` or Scheduler.backend.record_tags(); call "
        "session.rollback() to drop the change"
    )
