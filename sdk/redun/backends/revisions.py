"""Schema revisions this redun knows (no SQLAlchemy import: the hot path checks these).

``REVISIONS`` lists the alembic revisions oldest first; the last is the schema
of :mod:`redun.backends.schema`. A test checks them against the migration
scripts.
"""

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
HEAD_REVISION = REVISIONS[-1]
# The table alembic keeps its revision in (prefixed: a shared database may hold others').
VERSION_TABLE = "redun_alembic_version"

# The original insitro/redun keeps its schema version here, and its call graph in
# unprefixed tables. Such a database is recognised and never written to.
ORIGINAL_VERSION_TABLE = "redun_version"
_ORIGINAL_TABLES = frozenset({"call_node", "call_edge", "execution", "job", "value"})


def is_original_redun(tables: object) -> bool:
    """True if these table names are those of a database made by insitro/redun."""
    names = set(tables)  # type: ignore[call-overload]
    if VERSION_TABLE in names:
        return False
    return ORIGINAL_VERSION_TABLE in names or _ORIGINAL_TABLES <= names


def original_redun_message(where: str) -> str:
    """What to tell a user whose db_uri names a database of the original redun."""
    return (
        f"{where} was made by the original redun (insitro/redun); this redun keeps its "
        "own schema and leaves that database untouched. Point [backend] db_uri in "
        "redun.ini (or --db) at a new file, e.g. sqlite:///redun-next.db; the original "
        "keeps using its own."
    )
