"""Verdicts of valid call trees: ``redun_tree_check``, so a cached re-run skips the walk.

A row says which conditions made the tree below a call valid when it was last
walked (see :mod:`redun.scheduler.cache`): the tasks in it with their hashes,
the ``check_valid="shallow"`` tasks it stopped at, the values whose validity it
checked. A later run that finds the same conditions takes the call as valid
without reading its tree.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "redun_tree_check",
        sa.Column("call_hash", sa.String(40), primary_key=True),
        sa.Column("tasks", sa.Text),
        sa.Column("shallow", sa.Text),
        sa.Column("checks", sa.Text),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("redun_tree_check")
