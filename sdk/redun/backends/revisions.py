"""Schema revisions this redun knows (no SQLAlchemy import: the hot path checks these).

``REVISIONS`` lists the alembic revisions oldest first; the last is the schema
of :mod:`redun.backends.schema`. A test checks them against the migration
scripts.
"""

REVISIONS = ("0001", "0002", "0003")
HEAD_REVISION = REVISIONS[-1]
# The table alembic keeps its revision in (prefixed: a shared database may hold others').
VERSION_TABLE = "redun_alembic_version"
