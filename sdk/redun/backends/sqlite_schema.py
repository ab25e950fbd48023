"""The newest schema as SQLite DDL, so a fresh SQLite file is created without SQLAlchemy.

Generated from :mod:`redun.backends.schema` (SQLAlchemy's SQLite compiler,
whitespace collapsed); a test checks the two agree. Regenerate after a schema
change with::

    python -c "from redun.backends.sqlite_schema import render; print(render())"
"""

from __future__ import annotations

SQLITE_DDL: tuple[str, ...] = (
    'CREATE TABLE redun_argument ( call_hash VARCHAR(40) NOT NULL, name VARCHAR(256) NOT NULL, value_hash VARCHAR(40) NOT NULL, PRIMARY KEY (call_hash, name) ) WITHOUT ROWID',
    'CREATE INDEX ix_redun_argument_value_hash ON redun_argument (value_hash)',
    'CREATE TABLE redun_call_edge ( parent_call_hash VARCHAR(40) NOT NULL, position INTEGER NOT NULL, child_call_hash VARCHAR(40) NOT NULL, PRIMARY KEY (parent_call_hash, position) ) WITHOUT ROWID',
    'CREATE TABLE redun_call_node ( call_hash VARCHAR(40) NOT NULL, task_hash VARCHAR(40) NOT NULL, task_name VARCHAR(256) NOT NULL, args_hash VARCHAR(40) NOT NULL, eval_hash VARCHAR(40) NOT NULL, result_hash VARCHAR(40) NOT NULL, result_needs_check BOOLEAN, arg_hashes TEXT, time FLOAT, expr_hash VARCHAR(40), cacheable BOOLEAN, context_reads TEXT, PRIMARY KEY (call_hash) ) WITHOUT ROWID',
    'CREATE INDEX ix_redun_call_node_result_hash ON redun_call_node (result_hash)',
    'CREATE INDEX ix_redun_call_node_task_name ON redun_call_node (task_name)',
    'CREATE TABLE redun_evaluation ( eval_hash VARCHAR(40) NOT NULL, call_hash VARCHAR(40) NOT NULL, time FLOAT, PRIMARY KEY (eval_hash) ) WITHOUT ROWID',
    'CREATE TABLE redun_execution ( id VARCHAR(32) NOT NULL, root_job_id VARCHAR(32), argv TEXT, expr TEXT, start_time FLOAT, end_time FLOAT, status VARCHAR(16), error TEXT, user VARCHAR(64), host VARCHAR(128), pid INTEGER, cwd TEXT, PRIMARY KEY (id) )',
    'CREATE INDEX ix_redun_execution_start ON redun_execution (start_time)',
    'CREATE TABLE redun_file ( value_hash VARCHAR(40) NOT NULL, path TEXT NOT NULL, file_hash VARCHAR(40), size INTEGER, kind VARCHAR(16), PRIMARY KEY (value_hash) ) WITHOUT ROWID',
    'CREATE INDEX ix_redun_file_path ON redun_file (path)',
    'CREATE TABLE redun_job ( id VARCHAR(32) NOT NULL, execution_id VARCHAR(32) NOT NULL, parent_id VARCHAR(32), task_name VARCHAR(256), task_hash VARCHAR(40), eval_hash VARCHAR(40), call_hash VARCHAR(40), arg_hashes TEXT, state VARCHAR(16), cached BOOLEAN, reason TEXT, executor VARCHAR(64), start_time FLOAT, end_time FLOAT, error TEXT, traceback TEXT, PRIMARY KEY (id) )',
    'CREATE INDEX ix_redun_job_call_hash ON redun_job (call_hash)',
    'CREATE INDEX ix_redun_job_execution_id ON redun_job (execution_id)',
    'CREATE TABLE redun_job_log ( job_id VARCHAR(32) NOT NULL, position INTEGER NOT NULL, stream VARCHAR(8), text TEXT, PRIMARY KEY (job_id, position) ) WITHOUT ROWID',
    'CREATE TABLE redun_subvalue ( parent_hash VARCHAR(40) NOT NULL, child_hash VARCHAR(40) NOT NULL, PRIMARY KEY (parent_hash, child_hash) ) WITHOUT ROWID',
    'CREATE INDEX ix_redun_subvalue_child ON redun_subvalue (child_hash)',
    'CREATE TABLE redun_tag ( entity_type VARCHAR(16) NOT NULL, entity_id VARCHAR(40) NOT NULL, "key" VARCHAR(256) NOT NULL, value TEXT NOT NULL, PRIMARY KEY (entity_type, entity_id, "key", value) )',
    'CREATE INDEX ix_redun_tag_key ON redun_tag ("key")',
    'CREATE TABLE redun_task ( hash VARCHAR(40) NOT NULL, fullname VARCHAR(256) NOT NULL, namespace VARCHAR(256), name VARCHAR(256), version VARCHAR(64), source TEXT, code_parts TEXT, PRIMARY KEY (hash) ) WITHOUT ROWID',
    'CREATE INDEX ix_redun_task_fullname ON redun_task (fullname)',
    'CREATE TABLE redun_tree_check ( call_hash VARCHAR(40) NOT NULL, tasks TEXT, shallow TEXT, checks TEXT, PRIMARY KEY (call_hash) ) WITHOUT ROWID',
    'CREATE TABLE redun_value ( hash VARCHAR(40) NOT NULL, type_name VARCHAR(256), format VARCHAR(16), location VARCHAR(16), data BLOB, size INTEGER, needs_check BOOLEAN, preview TEXT, PRIMARY KEY (hash) ) WITHOUT ROWID',
    'CREATE TABLE redun_alembic_version ( version_num VARCHAR(32) NOT NULL, CONSTRAINT redun_alembic_version_pkc PRIMARY KEY (version_num) )',
)  # fmt: skip


def render() -> str:
    """The DDL as SQLAlchemy compiles it from :mod:`redun.backends.schema` (for the test)."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from redun.backends import schema
    from redun.backends.migrate import version_table

    dialect = sqlite.dialect()
    statements = []
    for table in [*schema.metadata.sorted_tables, version_table]:
        statements.append(" ".join(str(CreateTable(table).compile(dialect=dialect)).split()))
        for index in sorted(table.indexes, key=lambda index: index.name or ""):
            statements.append(" ".join(str(CreateIndex(index).compile(dialect=dialect)).split()))
    return "\n".join(statements)
