"""The first schema: executions, tasks, values, call nodes and edges, jobs.

Databases made by redun before alembic (they have a ``redun_schema`` table)
are at this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "redun_schema",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "redun_execution",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("root_job_id", sa.String(32)),
        sa.Column("argv", sa.Text),
        sa.Column("start_time", sa.Float),
        sa.Column("end_time", sa.Float),
        sa.Column("status", sa.String(16)),
        sa.Column("error", sa.Text),
        sa.Column("user", sa.String(64)),
        sa.Column("host", sa.String(128)),
        sa.Column("cwd", sa.Text),
    )
    op.create_index("ix_redun_execution_start", "redun_execution", ["start_time"])
    op.create_table(
        "redun_task",
        sa.Column("hash", sa.String(40), primary_key=True),
        sa.Column("fullname", sa.String(256), nullable=False),
        sa.Column("namespace", sa.String(256)),
        sa.Column("name", sa.String(256)),
        sa.Column("source", sa.Text),
        sa.Column("code_parts", sa.Text),
    )
    op.create_index("ix_redun_task_fullname", "redun_task", ["fullname"])
    op.create_table(
        "redun_value",
        sa.Column("hash", sa.String(40), primary_key=True),
        sa.Column("type_name", sa.String(256)),
        sa.Column("format", sa.String(16)),
        sa.Column("data", sa.LargeBinary),
        sa.Column("size", sa.Integer),
        sa.Column("needs_check", sa.Boolean, default=False),
        sa.Column("preview", sa.Text),
    )
    op.create_table(
        "redun_call_node",
        sa.Column("call_hash", sa.String(40), primary_key=True),
        sa.Column("task_hash", sa.String(40), nullable=False),
        sa.Column("task_name", sa.String(256), nullable=False),
        sa.Column("args_hash", sa.String(40), nullable=False),
        sa.Column("eval_hash", sa.String(40), nullable=False),
        sa.Column("result_hash", sa.String(40), nullable=False),
        sa.Column("arg_hashes", sa.Text),
        sa.Column("time", sa.Float),
    )
    op.create_index("ix_redun_call_node_task_name", "redun_call_node", ["task_name"])
    op.create_index("ix_redun_call_node_eval_hash", "redun_call_node", ["eval_hash"])
    op.create_index("ix_redun_call_node_result_hash", "redun_call_node", ["result_hash"])
    op.create_table(
        "redun_call_edge",
        sa.Column("parent_call_hash", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("child_call_hash", sa.String(40), nullable=False),
    )
    op.create_index("ix_redun_call_edge_child_call_hash", "redun_call_edge", ["child_call_hash"])
    op.create_table(
        "redun_argument",
        sa.Column("call_hash", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("value_hash", sa.String(40), nullable=False),
    )
    op.create_index("ix_redun_argument_value_hash", "redun_argument", ["value_hash"])
    op.create_table(
        "redun_evaluation",
        sa.Column("eval_hash", sa.String(40), primary_key=True),
        sa.Column("call_hash", sa.String(40), nullable=False),
        sa.Column("time", sa.Float),
    )
    op.create_table(
        "redun_job",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("execution_id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(32)),
        sa.Column("task_name", sa.String(256)),
        sa.Column("task_hash", sa.String(40)),
        sa.Column("eval_hash", sa.String(40)),
        sa.Column("call_hash", sa.String(40)),
        sa.Column("state", sa.String(16)),
        sa.Column("cached", sa.Boolean),
        sa.Column("reason", sa.Text),
        sa.Column("executor", sa.String(64)),
        sa.Column("start_time", sa.Float),
        sa.Column("end_time", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_redun_job_execution_id", "redun_job", ["execution_id"])
    op.create_index("ix_redun_job_parent_id", "redun_job", ["parent_id"])
    op.create_index("ix_redun_job_call_hash", "redun_job", ["call_hash"])
    op.execute("INSERT INTO redun_schema (id, version) VALUES (1, 1)")


def downgrade() -> None:
    raise NotImplementedError("redun does not downgrade schemas")
