"""The complete store: files, subvalues, tags, the value store, richer jobs.

* values may live in the on-disk value store (``redun_value.location``);
* ``redun_file`` and ``redun_subvalue`` record the files inside values (lineage);
* ``redun_tag`` holds tags of executions, jobs, values and tasks;
* executions record their expression and pid, tasks their version, jobs their
  argument hashes (when they have no call node) and traceback;
* call nodes carry whether their result needs a validity check, so a cache
  check of a call tree reads one table;
* indexes nothing queries any more are dropped (they slowed recording).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redun_execution") as batch:
        batch.add_column(sa.Column("expr", sa.Text))
        batch.add_column(sa.Column("pid", sa.Integer))
    with op.batch_alter_table("redun_task") as batch:
        batch.add_column(sa.Column("version", sa.String(64)))
    with op.batch_alter_table("redun_value") as batch:
        batch.add_column(sa.Column("location", sa.String(16)))
    op.execute("UPDATE redun_value SET location = 'inline'")
    with op.batch_alter_table("redun_call_node") as batch:
        batch.add_column(sa.Column("result_needs_check", sa.Boolean))
        batch.drop_index("ix_redun_call_node_eval_hash")
    op.execute(
        "UPDATE redun_call_node SET result_needs_check = (SELECT v.needs_check "
        "FROM redun_value v WHERE v.hash = redun_call_node.result_hash)"
    )
    with op.batch_alter_table("redun_call_edge") as batch:
        batch.drop_index("ix_redun_call_edge_child_call_hash")
    with op.batch_alter_table("redun_job") as batch:
        batch.add_column(sa.Column("arg_hashes", sa.Text))
        batch.add_column(sa.Column("traceback", sa.Text))
        batch.drop_index("ix_redun_job_parent_id")
    op.create_table(
        "redun_subvalue",
        sa.Column("parent_hash", sa.String(40), primary_key=True),
        sa.Column("child_hash", sa.String(40), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_redun_subvalue_child", "redun_subvalue", ["child_hash"])
    op.create_table(
        "redun_file",
        sa.Column("value_hash", sa.String(40), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("file_hash", sa.String(40)),
        sa.Column("size", sa.Integer),
        sa.Column("kind", sa.String(16)),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_redun_file_path", "redun_file", ["path"])
    op.create_table(
        "redun_tag",
        sa.Column("entity_type", sa.String(16), primary_key=True),
        sa.Column("entity_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
    )
    op.create_index("ix_redun_tag_key", "redun_tag", ["key"])
    op.drop_table("redun_schema")


def downgrade() -> None:
    raise NotImplementedError("redun does not downgrade schemas")
