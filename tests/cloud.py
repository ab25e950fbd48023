"""Object stores on loopback for tests: the GCS emulator, moto's S3 server, a refusing endpoint.

Each is a real HTTP server the real SDK client talks to (google-cloud-storage
through ``STORAGE_EMULATOR_HOST``, boto3 through ``AWS_ENDPOINT_URL``), so a
daemon in another process can reach it too.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GcsEmulator:
    """gcp-storage-emulator in this process (a thread), in memory, on 127.0.0.1."""

    def __init__(self) -> None:
        from gcp_storage_emulator.server import create_server

        logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
        self.port = free_port()
        self.server = create_server("127.0.0.1", self.port, in_memory=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []  # request lines, while recording

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def wipe(self) -> None:
        self.server.wipe()

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """The request lines the emulator serves meanwhile (from its request log)."""
        seen: list[str] = []

        class Catch(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record.getMessage())

        logger = logging.getLogger("gcp_storage_emulator.server")
        handler = Catch(logging.INFO)
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        try:
            yield seen
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)


def gcs_env(emulator_url: str) -> dict[str, str | None]:
    """Point google-cloud-storage at the emulator, with no credentials of the machine.

    Returns the changes to the environment (None: unset), for :func:`apply_env`.
    """
    return {
        "GOOGLE_APPLICATION_CREDENTIALS": None,
        "GOOGLE_CLOUD_PROJECT": None,
        "GCLOUD_PROJECT": None,
        "STORAGE_EMULATOR_HOST": emulator_url,
        "NO_GCE_CHECK": "true",  # never probe a metadata server
    }


def aws_env(
    tmp: Path, endpoint: str | None = None, env: Mapping[str, str] = os.environ
) -> dict[str, str | None]:
    """Fake AWS credentials, no AWS config from the machine; ``endpoint`` for a moto server."""
    changes: dict[str, str | None] = {name: None for name in env if name.startswith("AWS_")}
    changes.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
    )
    if endpoint:
        changes["AWS_ENDPOINT_URL"] = endpoint
    return changes


def apply_env(target: Any, changes: Mapping[str, str | None]) -> None:
    """Apply ``changes`` to a dict, or through a pytest ``monkeypatch`` (undone after the test)."""
    for name, value in changes.items():
        if isinstance(target, MutableMapping):
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
        elif value is None:
            target.delenv(name, raising=False)
        else:
            target.setenv(name, value)


class MotoS3Server:
    """moto's server mode in a thread on 127.0.0.1 (reachable from other processes)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)

    def start(self) -> None:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.stop()


class RefusingEndpoint:
    """An HTTP server answering every request with one status and a GCS-style error body."""

    def __init__(self, status: int, message: str) -> None:
        body = json.dumps(
            {"error": {"code": status, "message": message, "errors": [{"message": message}]}}
        ).encode()
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                outer.hits += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RefusingEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
