"""Alembic migrations of the redun schema (run by :mod:`redun.backends.migrate`)."""
