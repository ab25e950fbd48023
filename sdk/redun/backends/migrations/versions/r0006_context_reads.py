"""Calls record the context values read under them: a context change re-runs only those.

``redun_call_node.context_reads``: JSON ``{var_path: value hash, or "-" if absent}``
of the context values read by ``get_context`` while the call's expression was
evaluated (the defaults of the calls it made included); ``{"*": hash}`` holds the
whole context's hash when a read was made under ``update_context``. The cache key
of a call no longer holds the context, so a cached call whose reads differ from
the context now re-evaluates its expression. Calls recorded before hold NULL:
valid only while the context is empty (their keys held the context). Kept
verdicts on call trees are dropped: they were made without the reads.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redun_call_node") as batch:
        batch.add_column(sa.Column("context_reads", sa.Text))
    op.execute("DELETE FROM redun_tree_check")


def downgrade() -> None:
    with op.batch_alter_table("redun_call_node") as batch:
        batch.drop_column("context_reads")
