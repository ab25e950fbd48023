"""The database schema (SQLAlchemy Core tables).

Rows are keyed by hashes wherever possible so that inserts are idempotent:
two runs that record the same call or value at once do not conflict.
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

SCHEMA_VERSION = 1

metadata = MetaData()

schema_version = Table(
    "redun_schema",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

execution = Table(
    "redun_execution",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("root_job_id", String(32)),
    Column("argv", Text),  # JSON list
    Column("start_time", Float),
    Column("end_time", Float),
    Column("status", String(16)),  # running, done, failed, cancelled, interrupted
    Column("error", Text),
    Column("user", String(64)),
    Column("host", String(128)),
    Column("cwd", Text),
)

task = Table(
    "redun_task",
    metadata,
    Column("hash", String(40), primary_key=True),
    Column("fullname", String(256), nullable=False, index=True),
    Column("namespace", String(256)),
    Column("name", String(256)),
    Column("source", Text),
    Column("code_parts", Text),  # JSON {label: digest}
)

value = Table(
    "redun_value",
    metadata,
    Column("hash", String(40), primary_key=True),
    Column("type_name", String(256)),
    Column("format", String(16)),  # pickle
    Column("data", LargeBinary),
    Column("size", Integer),
    Column("needs_check", Boolean, default=False),
    Column("preview", Text),
)

call_node = Table(
    "redun_call_node",
    metadata,
    Column("call_hash", String(40), primary_key=True),
    Column("task_hash", String(40), nullable=False),
    Column("task_name", String(256), nullable=False, index=True),
    Column("args_hash", String(40), nullable=False),
    Column("eval_hash", String(40), nullable=False, index=True),
    Column("result_hash", String(40), nullable=False, index=True),
    Column("arg_hashes", Text),  # JSON {name: value hash}
    Column("time", Float),
)

call_edge = Table(
    "redun_call_edge",
    metadata,
    Column("parent_call_hash", String(40), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("child_call_hash", String(40), nullable=False, index=True),
)

argument = Table(
    "redun_argument",
    metadata,
    Column("call_hash", String(40), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("value_hash", String(40), nullable=False, index=True),
)

evaluation = Table(
    "redun_evaluation",
    metadata,
    Column("eval_hash", String(40), primary_key=True),
    Column("call_hash", String(40), nullable=False),
    Column("time", Float),
)

job = Table(
    "redun_job",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("execution_id", String(32), nullable=False, index=True),
    Column("parent_id", String(32), index=True),
    Column("task_name", String(256)),
    Column("task_hash", String(40)),
    Column("eval_hash", String(40)),
    Column("call_hash", String(40), index=True),
    Column("state", String(16)),
    Column("cached", Boolean),
    Column("reason", Text),
    Column("executor", String(64)),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("error", Text),
)

Index("ix_redun_execution_start", execution.c.start_time)
