"""Calls record the expression their task returned, and whether they may be reused.

* ``redun_call_node.expr_hash``: the value hash of the expression a task
  returned, when its result came from calls below it. A cached call whose
  subtree changed re-evaluates it instead of running the task again.
* ``redun_call_node.cacheable``: false for calls of ``cache=False`` tasks, so
  the calls above them are not taken whole from the cache.
* A task kept in a value (returned by a task) now needs a validity check: it is
  invalid once that task's code changes. Values recorded before are marked.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TASK_TYPES = "('redun.task.Task', 'redun.task.PartialTask', 'redun.task.SchedulerTask')"


def upgrade() -> None:
    with op.batch_alter_table("redun_call_node") as batch:
        batch.add_column(sa.Column("expr_hash", sa.String(40)))
        batch.add_column(sa.Column("cacheable", sa.Boolean))
    op.execute(f"UPDATE redun_value SET needs_check = TRUE WHERE type_name IN {_TASK_TYPES}")
    op.execute(
        "UPDATE redun_call_node SET result_needs_check = TRUE WHERE result_hash IN "
        f"(SELECT hash FROM redun_value WHERE type_name IN {_TASK_TYPES})"
    )


def downgrade() -> None:
    with op.batch_alter_table("redun_call_node") as batch:
        batch.drop_column("cacheable")
        batch.drop_column("expr_hash")
