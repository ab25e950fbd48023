"""TCP: token required, loopback only unless TLS, the token never logged."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from redun.client import Client, Unauthenticated

from .helpers import Daemon, redund


def _tcp_address(daemon: Daemon) -> str:
    state = (daemon.home / "redund.json").read_text()
    import json

    for address in json.loads(state)["addresses"]:
        if address.startswith(("tcp:", "tls:")):
            return address.split(":", 1)[1]
    raise AssertionError(state)


def test_tcp_needs_the_token(fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fresh_daemon.project)
    fresh_daemon.start("--tcp", "127.0.0.1:0")
    address = _tcp_address(fresh_daemon)
    token_file = fresh_daemon.home / "redund.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    with Client(address=address) as anonymous, pytest.raises(Unauthenticated, match="token"):
        anonymous.health()
    with Client(address=address, token="wrong") as wrong, pytest.raises(Unauthenticated):
        wrong.executions()
    with Client(address=address, token=token) as client:
        assert client.health().pid == fresh_daemon.pid()
        assert client.submit("flow.py", "greet").result(timeout=30) == "Hello, world!"
        events = list(client.events(client.executions(limit=1)[0].id))
        assert events[-1]["type"] == "execution_finished"
    log = (fresh_daemon.home / "redund.log").read_text()
    assert token not in log
    result = fresh_daemon.redun("submit", "--address", address, "flow.py", "greet")
    assert result.returncode == 1 and "token" in result.stderr


def test_non_loopback_needs_tls(tmp_path: Path) -> None:
    home = tmp_path / ".redun"
    for address in ("0.0.0.0:0", "8.8.8.8:50051"):
        result = redund("start", "--home", str(home), "--tcp", address)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "refusing to listen" in result.stderr and "TLS" in result.stderr
    bad = redund("start", "--home", str(home), "--tcp", "localhost")
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr
    assert not (home / "redund.sock").exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_listener(fresh_daemon: Daemon, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    fresh_daemon.start("--tcp", "0.0.0.0:0", "--tls-cert", str(cert), "--tls-key", str(key))
    port = _tcp_address(fresh_daemon).rsplit(":", 1)[1]
    token = (fresh_daemon.home / "redund.token").read_text().strip()
    with Client(address=f"localhost:{port}", token=token, tls_ca=str(cert)) as client:
        assert client.health().pid == fresh_daemon.pid()
    with Client(address=f"localhost:{port}", tls_ca=str(cert)) as client:
        with pytest.raises(Unauthenticated):
            client.health()
