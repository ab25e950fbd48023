"""``redund``: the redun daemon.

    redund start [--home DIR] [--foreground] [--tcp HOST:PORT [--tls-cert F --tls-key F]]
    redund status [--home DIR]
    redund stop [--home DIR]

Exit codes: 0 success (``start`` also when one already runs); 1 failure
(``status``: not running); 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from redun.client.paths import resolve_home
from redund.auth import TcpListen, parse_tcp
from redund.errors import StartError
from redund.home import Home

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the redun home (default: $REDUN_HOME, else ./.redun)",
    )
    parser = argparse.ArgumentParser(
        prog="redund",
        description="The redun daemon: runs workflows for clients and streams their events.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    start = commands.add_parser("start", parents=[common], help="start the daemon")
    start.add_argument(
        "--foreground", action="store_true", help="stay in the foreground (systemd, containers)"
    )
    start.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="also listen on TCP (token required; loopback unless TLS)",
    )
    start.add_argument("--tls-cert", metavar="FILE", default="", help="TLS certificate (PEM)")
    start.add_argument("--tls-key", metavar="FILE", default="", help="TLS private key (PEM)")
    start.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("status", parents=[common], help="is it running, where, how busy")
    stop = commands.add_parser(
        "stop", parents=[common], help="stop it (runs in flight are cancelled)"
    )
    stop.add_argument("--timeout", type=float, default=STOP_TIMEOUT, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return EXIT_OK if exit.code in (0, None) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    home = Home(resolve_home(getattr(args, "home", None)))
    try:
        if args.command == "start":
            tcp = (
                parse_tcp(args.tcp, tls_cert=args.tls_cert, tls_key=args.tls_key)
                if args.tcp
                else None
            )
            if args.foreground or args.detached:
                return run_daemon(home, tcp, to_stderr=not args.detached)
            return start_background(home, args)
        if args.command == "status":
            return status(home)
        return stop(home, args.timeout)
    except StartError as error:
        print(f"redund: error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.usage else EXIT_FAILED
    except KeyboardInterrupt:
        return 130


# -- start ---------------------------------------------------------------------------


def _describe_running(home: Home) -> str:
    state = home.read_state() or {}
    addresses = ", ".join(state.get("addresses") or []) or "?"
    return f"pid {state.get('pid') or home.read_pid() or '?'}, {addresses}"


def _describe_when_ready(home: Home, deadline: float) -> str:
    """Describe the daemon holding the lock once it has written its state and answers
    (another ``redund start`` may have won a race and still be starting)."""
    while time.monotonic() < deadline and home.is_locked():
        state = home.read_state()
        if state and state.get("pid") and _answers(home):
            break
        time.sleep(0.02)
    return _describe_running(home)


def check_home(home: Home) -> None:
    """Refuse to start on a home whose redun.ini or database cannot be used.

    Raises:
        StartError: naming the file or the database and what is wrong.
    """
    from redun.config import load_config
    from redun.errors import BackendError, ConfigError

    try:
        config = load_config(home.path)
    except ConfigError as error:
        raise StartError(str(error), usage=True) from None
    uri = (config.get("backend") or {}).get("db_uri")
    if not uri or uri in ("sqlite://", "sqlite:///:memory:", "memory"):
        return
    from redun.backends.db import DbBackend

    backend = DbBackend(uri, config=config.get("backend"))
    try:
        backend.load()
    except BackendError as error:
        raise StartError(str(error)) from None
    finally:
        backend.close()


def start_background(home: Home, args: argparse.Namespace) -> int:
    home.ensure()
    deadline = time.monotonic() + START_TIMEOUT
    if home.is_locked():
        described = _describe_when_ready(home, deadline)
        print(f"redund: already running for {home.path} ({described})")
        return EXIT_OK
    check_home(home)
    command = [sys.executable, "-m", "redund", "start", "--detached", "--home", home.path]
    if args.tcp:
        command += ["--tcp", args.tcp]
    if args.tls_cert:
        command += ["--tls-cert", os.path.abspath(args.tls_cert)]
    if args.tls_key:
        command += ["--tls-key", os.path.abspath(args.tls_key)]
    with open(home.log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            cwd=home.path,
        )
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            if code == EXIT_OK and home.is_locked():  # another start won the race
                described = _describe_when_ready(home, deadline)
                print(f"redund: already running for {home.path} ({described})")
                return EXIT_OK
            print(f"redund: error: the daemon did not start (exit code {code})", file=sys.stderr)
            _print_log_tail(home)
            return EXIT_FAILED if code != EXIT_USAGE else EXIT_USAGE
        state = home.read_state()
        if state and state.get("pid") == process.pid and _answers(home):
            break
        time.sleep(0.02)
    else:
        print(
            f"redund: error: the daemon did not answer within {START_TIMEOUT:.0f} s",
            file=sys.stderr,
        )
        _print_log_tail(home)
        return EXIT_FAILED
    print(f"redund: started for {home.path} ({_describe_running(home)})")
    return EXIT_OK


def _answers(home: Home) -> bool:
    from redun.client import Client, ClientError

    try:
        with Client(home=home.path, timeout=2.0) as client:
            client.health()
        return True
    except ClientError:
        return False


def _print_log_tail(home: Home, lines: int = 20) -> None:
    try:
        with open(home.log_path, encoding="utf-8", errors="replace") as handle:
            tail = handle.readlines()[-lines:]
    except OSError:
        return
    print(f"--- last lines of {home.log_path} ---", file=sys.stderr)
    sys.stderr.writelines(tail)


def _setup_logging(home: Home, to_stderr: bool) -> None:
    logger = logging.getLogger("redund")
    logger.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handler: logging.Handler = logging.FileHandler(home.log_path, encoding="utf-8")
    if not to_stderr:  # stderr already is the log file
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    if to_stderr:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(formatter)
        logger.addHandler(err)


def run_daemon(home: Home, tcp: TcpListen | None, *, to_stderr: bool) -> int:
    """Run the daemon in this process until it is stopped."""
    home.ensure()
    if not home.try_lock():
        print(f"redund: already running for {home.path} ({_describe_running(home)})")
        return EXIT_OK
    _setup_logging(home, to_stderr)
    log = logging.getLogger("redund")
    for path in home.clean_stale():
        log.info("removed stale %s", path)
    from redund.runners import RunnerPool

    pool = RunnerPool()
    try:
        check_home(home)
        pool.spawn()  # before grpc is imported: the factory forks, we never do
        os.umask(0o077)
        import asyncio

        from redund.server import Daemon

        asyncio.run(Daemon(home, pool, tcp=tcp).serve())
    except StartError as error:
        log.error("%s", error)
        print(f"redund: error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.usage else EXIT_FAILED
    finally:
        pool.stop()
        home.remove_running()
        home.unlock()
    return EXIT_OK


# -- status, stop ----------------------------------------------------------------------------


def status(home: Home) -> int:
    if not home.is_locked():
        print(f"redund: not running for {home.path}")
        return EXIT_FAILED
    from redun.client import Client, ClientError

    try:
        with Client(home=home.path, timeout=3.0) as client:
            health = client.health()
    except ClientError as error:
        print(
            f"redund: running for {home.path} ({_describe_running(home)}) but not answering: {error}"
        )
        return EXIT_FAILED
    uptime = max(0.0, time.time() - health.start_unix_ns / 1e9)
    print(f"redund: running for {health.home}")
    print(f"  pid:            {health.pid}")
    for address in health.addresses:
        print(f"  listening on:   {address}")
    print(f"  uptime:         {_format_duration(uptime)}")
    print(f"  runs in flight: {health.running_executions}")
    return EXIT_OK


def stop(home: Home, timeout: float) -> int:
    if not home.is_locked():
        print(f"redund: not running for {home.path}")
        return EXIT_OK
    pid = home.read_pid() or (home.read_state() or {}).get("pid")
    if not pid:
        print(
            f"redund: error: running for {home.path} but its pid file is missing", file=sys.stderr
        )
        return EXIT_FAILED
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while home.is_locked():
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            print(f"redund: did not stop within {timeout:.0f} s; killed pid {pid}", file=sys.stderr)
            return EXIT_FAILED
        time.sleep(0.02)
    print(f"redund: stopped (pid {pid})")
    return EXIT_OK


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


if __name__ == "__main__":
    sys.exit(main())
