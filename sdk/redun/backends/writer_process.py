"""A writer process: commits the recorder's batches on another core.

Recording a large fan-out is mostly the database driver's work: SQLite's
B-tree inserts, or building PostgreSQL's input. In-process that work competes
for the GIL with the scheduler. So the recorder's thread builds rows and ships
them here over a pipe; this process runs each batch in one transaction and
answers. It is a standalone script (no redun import) that starts in a few
milliseconds: ``python -I -S`` for SQLite, ``python -I`` for PostgreSQL (it
needs psycopg2 from site-packages), importing this module from its cached
bytecode and little else.

Protocol, both ways: a 4-byte little-endian length, then a ``marshal``-ed
message. The first request is the connection (``{"path": ..., "busy_ms": ...}``
for SQLite, psycopg2 keyword arguments for PostgreSQL: not on the command
line, where ``ps`` would show a password); it is answered ``(0, None)`` once
connected. Then requests are ``(seq, plan)``; replies are ``(seq, None)`` once
committed or ``(seq, "error text")`` after a rollback. A SQLite plan is a list
of ``(sql, rows)`` for ``executemany``; a PostgreSQL plan is described at
:func:`execute_postgres_plan`. End of input ends the process: when the parent
is killed, the batch in hand is committed (or rolled back whole) and the
process exits. SIGINT is ignored so that Ctrl-C in a terminal interrupts the
run, not its last commit.
"""

from __future__ import annotations

import io
import marshal
import os
import struct
import sys
import time

# Nothing here imports typing or threading at run time: the process starts on the
# critical path of a large run, and those two (with what they import) are 5 ms of it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

_HEADER = struct.Struct("<I")


def read_message(stream: IO[bytes]) -> Any:
    """The next message, or None at end of input (a truncated message counts as the end)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return marshal.loads(data)


def write_message(stream: IO[bytes], message: Any) -> None:
    data = marshal.dumps(message)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


# -- SQLite -----------------------------------------------------------------------------


def _sqlite() -> Any:
    """The sqlite3 module's C core: ``sqlite3`` itself also imports ``datetime`` for its
    default adapters, which this process never uses (3.5 ms of its start-up)."""
    try:
        import _sqlite3

        return _sqlite3
    except ImportError:  # an interpreter without the split: the public module
        import sqlite3

        return sqlite3


def connect_sqlite(path: str, busy_ms: int) -> Any:
    sqlite3 = _sqlite()
    conn = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-32768")
    # Checkpoint less often than every 1000 pages: a burst of batches commits faster,
    # and the last checkpoint happens as this process exits, after the parent moved on.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    return conn


def execute_sqlite_batch(conn: Any, statements: list[tuple[str, list]]) -> None:
    """Run ``statements`` in one write transaction (retried while the database is locked)."""
    sqlite3 = _sqlite()
    delay = 0.05
    for attempt in range(8):
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError:
            if attempt == 7:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        for sql, rows in statements:
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- PostgreSQL ---------------------------------------------------------------------------

_NULL = "\\N"


def copy_csv(rows: list[tuple], binary: bool = False) -> str:
    """``rows`` as CSV for ``COPY ... (FORMAT csv, NULL '\\N')``: None is ``\\N``, bytes
    are bytea hex (``\\x...``) when ``binary``, and the csv module (C) does the quoting."""
    import csv

    buffer = io.StringIO()
    null = _NULL
    if binary:
        prepared = [
            [null if v is None else ("\\x" + v.hex() if type(v) is bytes else v) for v in row]
            for row in rows
        ]
    else:
        prepared = [[null if v is None else v for v in row] for row in rows]
    csv.writer(buffer, lineterminator="\n").writerows(prepared)
    return buffer.getvalue()


def execute_postgres_plan(cursor: Any, plan: list[tuple]) -> None:
    """Run a plan on a psycopg2 cursor, inside the caller's transaction.

    Entries are ``("copy", table, columns, key_columns, conflict, rows)``: the
    rows are copied into a temporary twin of ``table`` (COPY is the fastest
    way in) and inserted from there in key order (so concurrent writers take
    their locks in the same order) with ``ON CONFLICT conflict``; or
    ``("sql", sql, rows)``: ``executemany`` with ``%s`` parameters.
    """
    for entry in plan:
        if entry[0] == "sql":
            _, sql, rows = entry
            cursor.executemany(sql, rows)
            continue
        kind, table, columns, key_columns, conflict, rows = entry
        text = rows if kind == "csv" else copy_csv(rows, binary=table == "redun_value")
        staging = f"_redun_in_{table}"
        names = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS"
        )
        cursor.copy_expert(
            f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv, NULL '{_NULL}')",
            io.StringIO(text),
        )
        order = ", ".join(f'"{c}"' for c in key_columns)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "
            f"ORDER BY {order} {conflict}"
        )
        cursor.execute(f"TRUNCATE {staging}")


def prepare_postgres_plan(plan: list[tuple]) -> list[tuple]:
    """Encode a plan's rows as CSV ahead of time (``copy`` entries become ``csv``)."""
    prepared = []
    for entry in plan:
        if entry[0] == "copy":
            _, table, columns, key_columns, conflict, rows = entry
            text = copy_csv(rows, binary=table == "redun_value")
            entry = ("csv", table, columns, key_columns, conflict, text)
        prepared.append(entry)
    return prepared


def connect_postgres(params: dict[str, Any]) -> Any:
    """A psycopg2 connection with the server's own commit durability.

    A commit returns once it is durable (``synchronous_commit`` as the server
    sets it, ``on`` by default). To trade the last fraction of a second of
    records on a server crash for faster commits, opt out in the URL:
    ``postgresql://host/db?options=-c%20synchronous_commit%3Doff``.
    """
    import psycopg2

    return psycopg2.connect(**params)


def execute_postgres_batch(conn: Any, plan: list[tuple]) -> None:
    try:
        with conn.cursor() as cursor:
            execute_postgres_plan(cursor, plan)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


# -- the process --------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    import _signal  # signal's C core: the module itself imports enum

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    kind = argv[1]
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    params = read_message(inp)
    if params is None:
        return 1
    execute: Any
    try:
        if kind == "sqlite":
            conn = connect_sqlite(params["path"], params["busy_ms"])
            execute = execute_sqlite_batch
        else:
            conn = connect_postgres(params)
            execute = execute_postgres_batch
    except Exception as error:
        write_message(out, (0, f"cannot connect: {type(error).__name__}: {error}"))
        return 1
    write_message(out, (0, None))  # ready
    # A reader thread takes the next batch off the pipe (and, for PostgreSQL, encodes
    # it) while this thread waits for the database to finish the current one. One batch
    # read ahead at most: ``slot`` is held from handing one over until it is taken.
    import _queue
    import _thread

    pending: _queue.SimpleQueue[Any] = _queue.SimpleQueue()
    slot = _thread.allocate_lock()
    prepare = prepare_postgres_plan if kind != "sqlite" else None

    def read_ahead() -> None:
        while True:
            message = read_message(inp)
            slot.acquire()
            if message is None:
                pending.put(None)
                return
            seq, plan = message
            try:
                if prepare is not None:
                    plan = prepare(plan)
            except Exception as error:
                pending.put((seq, None, f"{type(error).__name__}: {error}"))
                continue
            pending.put((seq, plan, None))

    _thread.start_new_thread(read_ahead, ())
    while True:
        item = pending.get()
        slot.release()
        if item is None:
            break
        seq, plan, failure = item
        reply: Any = (seq, failure)
        if failure is None:
            try:
                execute(conn, plan)
            except Exception as error:
                reply = (seq, f"{type(error).__name__}: {error}")
        try:
            write_message(out, reply)
        except (BrokenPipeError, OSError):
            break
    if kind == "sqlite":
        # Copy the WAL into the database now, on this process's time. Closing the last
        # connection would do it otherwise: the parent's, as it exits, keeping the user
        # waiting (70 ms after a 10,000-job run).
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 - a later checkpoint does it
            pass
    conn.close()
    return 0


class WriterProcessError(Exception):
    """The writer process failed to start, died, or could not commit a batch."""


class WriterProcess:
    """The parent's handle on a writer process (used by one thread at a time).

    Args:
        kind: ``sqlite`` or ``postgresql``.
        params: how to connect: ``{"path", "busy_ms"}`` for SQLite, psycopg2
            keyword arguments for PostgreSQL.
    """

    def __init__(self, kind: str, params: dict[str, Any]) -> None:
        self.kind = kind
        self._seq = 0
        self._acked = 0
        self._ready = False
        flags = ["-I", "-S"] if kind == "sqlite" else ["-I"]
        # This module imported from its cached bytecode (a script is compiled on every
        # start); its folder goes last on the path, behind the standard library.
        boot = (
            f"import sys; sys.path.append({os.path.dirname(os.path.abspath(__file__))!r}); "
            "import writer_process; sys.exit(writer_process.main(sys.argv))"
        )
        try:
            self.pid, self.stdin, self.stdout, self._popen = _spawn(
                [sys.executable, *flags, "-c", boot, kind]
            )
        except OSError as error:
            raise WriterProcessError(f"the writer process did not start: {error}") from error
        try:
            write_message(self.stdin, params)
        except (BrokenPipeError, OSError) as error:
            self.close()
            raise WriterProcessError(f"the writer process did not start: {error}") from error

    def _reply(self) -> int:
        message = read_message(self.stdout)
        if message is None:
            code = self._poll()
            raise WriterProcessError(f"the {self.kind} writer process exited (code {code})")
        got, error = message
        if error is not None:
            raise WriterProcessError(f"batch {got}: {error}")
        return int(got)

    def submit(self, plan: list[tuple]) -> int:
        """Send a batch; returns its number for :meth:`wait`.

        Sending blocks while the process is busy with an earlier batch (a pipe
        holds little), so a caller that builds the next batch before sending it
        overlaps its work with the commit.

        Raises:
            WriterProcessError: the process is gone, or could not connect.
        """
        try:
            if not self._ready:
                self._reply()
                self._ready = True
            self._seq += 1
            write_message(self.stdin, (self._seq, plan))
        except (BrokenPipeError, OSError) as error:
            raise WriterProcessError(f"the {self.kind} writer process is gone: {error}") from error
        return self._seq

    def wait(self, seq: int) -> None:
        """Return once batch ``seq`` (and every earlier one) is committed.

        Raises:
            WriterProcessError: the process is gone, or a batch failed (and was rolled back).
        """
        while self._acked < seq:
            self._acked = self._reply()

    def execute(self, plan: list[tuple]) -> None:
        """Commit ``plan`` in one transaction; returns once it is durable.

        PostgreSQL: flushed to the server's disk (its ``synchronous_commit``,
        ``on`` unless the URL opts out). SQLite (WAL, ``synchronous=NORMAL``):
        it survives any process being killed; a power cut may lose the last
        commits, never corrupt the file.

        Raises:
            WriterProcessError: the process is gone or the transaction failed.
        """
        self.wait(self.submit(plan))

    def close(self) -> None:
        """End input. The process finishes (a SQLite checkpoint) and exits on its own
        time: every batch was acknowledged, so nothing waits for that."""
        try:
            self.stdin.close()
        except OSError:
            pass
        self.stdout.close()
        import threading

        # Reap it when it exits, so no zombie outlives a long-lived parent.
        threading.Thread(target=self._wait, name="redun-writer-reaper", daemon=True).start()

    def _poll(self) -> int | None:
        """Its exit code once it exited (reaping it), else None."""
        if self._popen is not None:
            return self._popen.poll()
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status) if pid else None

    def _wait(self) -> None:
        if self._popen is not None:
            self._popen.wait()
            return
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _spawn(argv: list[str]) -> tuple[int, IO[bytes], IO[bytes], Any]:
    """Start ``argv`` in a session of its own (a terminal's Ctrl-C goes to the run, not to
    its last commit) with pipes on its stdin and stdout and stderr on /dev/null: its
    pid, our ends of the pipes, and the ``subprocess.Popen`` when that started it (it
    then polls and reaps it: on Windows a pid is not what ``os.waitpid`` takes).

    ``os.posix_spawn`` (vfork and exec), not ``subprocess``: importing that and forking
    took 5-20 ms of a busy run's interpreter lock, just when a large run needs its writer.
    """
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    popen: Any = None
    try:
        if not hasattr(os, "posix_spawn") or min(in_read, out_write) <= 2:
            # No posix_spawn; or a parent without stdin/stdout got a pipe there, and an
            # older C library does not clear close-on-exec when dup2 has nothing to move.
            import subprocess

            proc = subprocess.Popen(
                argv,
                stdin=in_read,
                stdout=out_write,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
            )
            pid, popen = proc.pid, proc
        else:
            pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, in_read, 0),
                    (os.POSIX_SPAWN_DUP2, out_write, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
                setsid=True,
            )
    except BaseException:
        for fd in (in_write, out_read):
            os.close(fd)
        raise
    finally:
        os.close(in_read)
        os.close(out_write)
    return pid, os.fdopen(in_write, "wb"), os.fdopen(out_read, "rb"), popen


if __name__ == "__main__":
    sys.exit(main(sys.argv))
