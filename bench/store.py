"""What recording costs: the fan-out with recording off, on SQLite, and on PostgreSQL.

For each store it times ``main(n)`` of ``bench/workloads/fanout.py`` (n + 2
jobs) on an empty database ("first"), then a fully cached re-run with a new
scheduler ("cached"), counting the SQL queries the re-run issues. "off" is
the in-memory backend: nothing is written anywhere. Each measurement is
repeated and the best kept, alternating stores so that a busy machine slows
them alike.

  .venv/bin/python bench/store.py                       # in-process, SQLite + PostgreSQL
  .venv/bin/python bench/store.py --cli                 # also whole `redun run` processes
  .venv/bin/python bench/store.py --pg ''               # skip PostgreSQL
  .venv/bin/python bench/store.py --n 2000 --repeat 5
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FANOUT = HERE / "workloads" / "fanout.py"
DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432"


def load_fanout() -> Any:
    spec = importlib.util.spec_from_file_location("bench_store_fanout", FANOUT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class PgDatabases:
    """Throw-away PostgreSQL databases on the server at ``base``."""

    def __init__(self, base: str) -> None:
        import sqlalchemy as sa

        self.base = base
        self.admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def new(self) -> str:
        import sqlalchemy as sa

        name = f"redun_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return f"{self.base}/{name}"

    def drop_all(self) -> None:
        import sqlalchemy as sa

        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def measure(fanout: Any, n: int, store: str, url: str | None) -> dict[str, float]:
    """One first run and one cached re-run; seconds, and the re-run's query count."""
    from redun import Scheduler
    from redun.backends.memory import MemoryBackend
    from redun.config import Config

    def scheduler() -> Scheduler:
        if url is None:
            return Scheduler(backend=memory)
        return Scheduler(config=Config({"backend": {"db_uri": url}}))

    memory = MemoryBackend()
    first = scheduler()
    if hasattr(first.backend, "load"):
        first.backend.load()  # creating the schema is not what is measured
    start, cpu = time.perf_counter(), time.process_time()
    assert first.run(fanout.main(n)) == n * (n + 1) // 2
    first_time = time.perf_counter() - start
    first_cpu = time.process_time() - cpu
    first.stop()
    again = scheduler()
    queries = [0]
    backend = again.backend
    if hasattr(backend, "query"):
        original = backend.query

        def counting(sql: str, **params: Any) -> Any:
            queries[0] += 1
            return original(sql, **params)

        backend.query = counting
    start = time.perf_counter()
    assert again.run(fanout.main(n)) == n * (n + 1) // 2
    cached_time = time.perf_counter() - start
    again.stop()
    if hasattr(backend, "close"):
        backend.close()
    return {"first": first_time, "cpu": first_cpu, "cached": cached_time, "queries": queries[0]}


def cli_time(n: int, db: str, workdir: Path) -> float:
    redun = [sys.executable, "-m", "redun.cli.main"]
    start = time.perf_counter()
    result = subprocess.run(
        [*redun, "-c", str(workdir / ".redun"), "--db", db, "run", "--no-progress",
         str(FANOUT), "main", "--n", str(n)],
        cwd=workdir,
        capture_output=True,
        text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"redun run failed: {result.stderr[-500:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="fan-out width (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of (default 3)")
    parser.add_argument(
        "--pg", default=DEFAULT_PG, help="PostgreSQL server URL without database ('' to skip)"
    )
    parser.add_argument("--cli", action="store_true", help="also time whole `redun run` processes")
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("redun").setLevel(logging.WARNING)
    fanout = load_fanout()
    temp = Path(tempfile.mkdtemp(prefix="redun-bench-store-"))
    pg = None
    if args.pg:
        try:
            pg = PgDatabases(args.pg)
            pg.new()
        except Exception as exc:
            print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
            pg = None
    stores = ["off", "sqlite"] + (["postgresql"] if pg else [])
    best: dict[str, dict[str, float]] = {}
    try:
        for round_ in range(args.repeat):
            for store in stores:
                if store == "off":
                    url = None
                elif store == "sqlite":
                    url = f"sqlite:///{temp}/{store}-{round_}/redun.db"
                else:
                    assert pg is not None
                    url = pg.new()
                result = measure(fanout, args.n, store, url)
                current = best.setdefault(store, dict(result))
                for key in ("first", "cpu", "cached"):
                    current[key] = min(current[key], result[key])
        cli: dict[str, float] = {}
        if args.cli:
            for round_ in range(args.repeat):
                for store in stores:
                    work = temp / f"cli-{store}-{round_}"
                    work.mkdir()
                    db = {
                        "off": "memory",
                        "sqlite": f"sqlite:///{work}/redun.db",
                    }.get(store) or (pg.new() if pg else "")
                    elapsed = cli_time(args.n, db, work)
                    cli[store] = min(cli.get(store, elapsed), elapsed)
    finally:
        if pg is not None:
            pg.drop_all()
        shutil.rmtree(temp, ignore_errors=True)

    off = best["off"]["first"]
    off_cpu = best["off"]["cpu"]
    print(f"fan-out of {args.n} tasks ({args.n + 2} jobs), best of {args.repeat}, in-process:")
    print(
        f"  {'store':<12}{'first':>10}{'vs off':>9}{'cpu':>9}{'vs off':>9}"
        f"{'cached':>10}{'queries':>9}"
    )
    for store in stores:
        row = best[store]
        queries = "-" if store == "off" else str(int(row["queries"]))
        print(
            f"  {store:<12}{row['first']:>9.3f}s{row['first'] / off:>8.2f}x"
            f"{row['cpu']:>8.3f}s{row['cpu'] / off_cpu:>8.2f}x"
            f"{row['cached']:>9.3f}s{queries:>9}"
        )
    if cli:
        print("whole `redun run` process (interpreter start-up included):")
        for store in stores:
            print(f"  {store:<12}{cli[store]:>9.3f}s{cli[store] / cli['off']:>8.2f}x")
    print(
        f"({os.cpu_count()} CPUs; 'off' = in-memory backend, nothing recorded; cpu = this "
        "process's CPU time, without the writer process and the database server)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
