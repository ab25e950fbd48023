"""The database schema (SQLAlchemy Core tables) at the newest revision.

Rows are keyed by hashes wherever possible so that inserts are idempotent:
two runs that record the same call or value at once do not conflict. A fresh
database is created from these tables and stamped with :data:`HEAD_REVISION`;
an older one is brought here by the alembic migrations in
``redun/backends/migrations/versions`` (a test checks that both roads end in
the same schema).

Hot tables are ``WITHOUT ROWID`` on SQLite: one B-tree per table instead of a
rowid table plus a primary-key index, which makes recording a large fan-out
noticeably cheaper.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from redun.backends.revisions import HEAD_REVISION as HEAD_REVISION
from redun.backends.revisions import REVISIONS as REVISIONS
from redun.backends.revisions import VERSION_TABLE as VERSION_TABLE

metadata = MetaData()

execution = Table(
    "redun_execution",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("root_job_id", String(32)),
    Column("argv", Text),  # JSON list
    Column("expr", Text),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("status", String(16)),  # running, done, failed, cancelled
    Column("error", Text),
    Column("user", String(64)),
    Column("host", String(128)),
    Column("pid", Integer),
    Column("cwd", Text),
)
Index("ix_redun_execution_start", execution.c.start_time)

task = Table(
    "redun_task",
    metadata,
    Column("hash", String(40), primary_key=True),
    Column("fullname", String(256), nullable=False, index=True),
    Column("namespace", String(256)),
    Column("name", String(256)),
    Column("version", String(64)),
    Column("source", Text),
    Column("code_parts", Text),  # JSON {label: digest or package version}
    sqlite_with_rowid=False,
)

value = Table(
    "redun_value",
    metadata,
    Column("hash", String(40), primary_key=True),
    Column("type_name", String(256)),
    Column("format", String(16)),  # pickle
    Column("location", String(16)),  # inline (data below) or store (the value store)
    Column("data", LargeBinary),
    Column("size", Integer),
    Column("needs_check", Boolean, default=False),
    Column("preview", Text),
    sqlite_with_rowid=False,
)

# A value holding files (a list of File, a dict of them) points at each file's value.
subvalue = Table(
    "redun_subvalue",
    metadata,
    Column("parent_hash", String(40), primary_key=True),
    Column("child_hash", String(40), primary_key=True),
    Index("ix_redun_subvalue_child", "child_hash"),
    sqlite_with_rowid=False,
)

file = Table(
    "redun_file",
    metadata,
    Column("value_hash", String(40), primary_key=True),
    Column("path", Text, nullable=False, index=True),
    Column("file_hash", String(40)),
    Column("size", Integer),
    Column("kind", String(16)),  # file, dir
    sqlite_with_rowid=False,
)

call_node = Table(
    "redun_call_node",
    metadata,
    Column("call_hash", String(40), primary_key=True),
    Column("task_hash", String(40), nullable=False),
    Column("task_name", String(256), nullable=False, index=True),
    Column("args_hash", String(40), nullable=False),
    Column("eval_hash", String(40), nullable=False),
    Column("result_hash", String(40), nullable=False, index=True),
    Column("result_needs_check", Boolean),
    Column("arg_hashes", Text),  # JSON {name: value hash}
    Column("time", Float),
    # The expression the task returned (a value), re-evaluated when the calls below change.
    Column("expr_hash", String(40)),
    # False for calls of cache=False tasks: the calls above them are never reused whole.
    Column("cacheable", Boolean),
    # JSON {var_path: value hash} of the context values read under the call (NULL:
    # recorded before reads were; see migration 0006).
    Column("context_reads", Text),
    sqlite_with_rowid=False,
)

call_edge = Table(
    "redun_call_edge",
    metadata,
    Column("parent_call_hash", String(40), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("child_call_hash", String(40), nullable=False),
    sqlite_with_rowid=False,
)

argument = Table(
    "redun_argument",
    metadata,
    Column("call_hash", String(40), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("value_hash", String(40), nullable=False, index=True),
    sqlite_with_rowid=False,
)

# The cache: an eval hash (task hash + argument hashes) -> the latest call.
evaluation = Table(
    "redun_evaluation",
    metadata,
    Column("eval_hash", String(40), primary_key=True),
    Column("call_hash", String(40), nullable=False),
    Column("time", Float),
    sqlite_with_rowid=False,
)

job = Table(
    "redun_job",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("execution_id", String(32), nullable=False, index=True),
    Column("parent_id", String(32)),
    Column("task_name", String(256)),
    Column("task_hash", String(40)),
    Column("eval_hash", String(40)),
    Column("call_hash", String(40), index=True),
    Column("arg_hashes", Text),  # JSON, for jobs without a call node (failed, unfinished)
    Column("state", String(16)),
    Column("cached", Boolean),
    Column("reason", Text),
    Column("executor", String(64)),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("error", Text),
    Column("traceback", Text),
)

# What a job wrote (bounded: see redun.logs.MAX_JOB_OUTPUT), in order, a chunk a row.
job_log = Table(
    "redun_job_log",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("stream", String(8)),  # stdout, stderr
    Column("text", Text),
    sqlite_with_rowid=False,
)

tag = Table(
    "redun_tag",
    metadata,
    Column("entity_type", String(16), primary_key=True),  # execution, job, value, task
    Column("entity_id", String(40), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Text, primary_key=True),  # JSON
    Index("ix_redun_tag_key", "key"),
)

# A valid verdict on the call tree below a call, and what it rested on (JSON lists): the
# tasks in it as [name, hash] pairs, the check_valid="shallow" tasks the check stopped
# at, the values it checked (files). Same conditions later: valid, without the walk.
tree_check = Table(
    "redun_tree_check",
    metadata,
    Column("call_hash", String(40), primary_key=True),
    Column("tasks", Text),
    Column("shallow", Text),
    Column("checks", Text),
    sqlite_with_rowid=False,
)

TABLES = {table.name: table for table in metadata.sorted_tables}
