"""Alembic environment: migrations run on the connection redun hands over.

:func:`redun.backends.migrate.run_alembic` opens a locked transaction and puts
its connection in ``config.attributes["connection"]``; alembic joins that
transaction instead of starting its own, so the whole migration commits or
rolls back as one.
"""

from __future__ import annotations

from alembic import context

from redun.backends import schema

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("redun migrations run through 'redun db upgrade', not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=schema.metadata,
    version_table=schema.VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
