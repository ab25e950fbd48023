"""Alembic revision scripts, oldest first: r0001_initial, r0002_store."""
