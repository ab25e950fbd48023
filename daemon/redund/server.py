"""The daemon process: listeners, the servicer, and a graceful stop.

Order matters (see DESIGN.md, "gRPC and fork do not mix"): the runner factory
is started by :func:`redund.__main__.run_daemon` before this module imports
grpc; then the event loop attaches to the factory, recovers runs a previous
daemon left in flight, and only then serves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import grpc

from redun.config import load_config
from redund.auth import TcpListen, make_interceptor
from redund.errors import StartError
from redund.home import Home
from redund.hub import Hub
from redund.objectwatch import poll_settings
from redund.observer import WatchObserver
from redund.runners import RunnerPool
from redund.runs import RunManager
from redund.service import RedunService, add_service
from redund.store import Store
from redund.watches import WatchRegistry

log = logging.getLogger("redund")

STOP_GRACE = 2.0
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 256 << 20),
    ("grpc.so_reuseport", 0),
]


class Daemon:
    """One running daemon for one home.

    Args:
        home: its home.
        pool: the runner pool, whose factory is already spawned.
        tcp: an extra TCP listener (token required), or None.
    """

    def __init__(self, home: Home, pool: RunnerPool, *, tcp: TcpListen | None = None) -> None:
        self.home = home.path
        self._home = home
        self.pool = pool
        self.tcp = tcp
        self.pid = os.getpid()
        self.start_time = time.time()
        self.addresses: list[str] = []
        self.hub = Hub()
        self.store = Store.for_home(home.path)
        self.runs = RunManager(home.path, pool, self.store, self.hub, home.inflight_dir)
        self.watches = WatchRegistry(home.path)
        self.runs.on_finished.append(self.watches.run_finished)
        interval, longest = poll_settings(load_config(home.path))
        self.observer = WatchObserver(
            self.watches,
            self.runs,
            self.hub,
            self.store,
            home=home.path,
            poll_interval=interval,
            poll_max_interval=longest,
        )
        self._stop = asyncio.Event()
        self._servers: list[grpc.aio.Server] = []

    def request_stop(self) -> None:
        self._stop.set()

    async def serve(self, *, on_ready: object = None) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        await self.pool.attach()
        recovered = await asyncio.to_thread(self.runs.recover)
        if recovered:
            log.info("marked %d run(s) left in flight as interrupted", len(recovered))
        await self.observer.start()
        await self._listen()
        self._home.write_running(self.pid, self.addresses, self.start_time)
        log.info("serving on %s (pid %d)", ", ".join(self.addresses), self.pid)
        try:
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _listen(self) -> None:
        service = RedunService(self)
        server = grpc.aio.server(options=GRPC_OPTIONS)
        add_service(service, server)
        path = self._home.socket_path
        if server.add_insecure_port("unix:" + path) == 0:
            raise StartError(f"cannot listen on the Unix socket {path}")
        await server.start()
        os.chmod(path, 0o600)
        self._servers.append(server)
        self.addresses.append("unix:" + path)
        if self.tcp is not None:
            token = self._home.token()
            tcp_server = grpc.aio.server(
                options=GRPC_OPTIONS,
                interceptors=[make_interceptor(token, self._home.token_path)],
            )
            add_service(service, tcp_server)
            target = self.tcp.address
            if self.tcp.tls_cert:
                with open(self.tcp.tls_key, "rb") as key, open(self.tcp.tls_cert, "rb") as cert:
                    credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
                port = tcp_server.add_secure_port(target, credentials)
            else:
                port = tcp_server.add_insecure_port(target)
            if port == 0:
                raise StartError(f"cannot listen on {target}")
            await tcp_server.start()
            self._servers.append(tcp_server)
            host = self.tcp.host if ":" not in self.tcp.host else f"[{self.tcp.host}]"
            scheme = "tls" if self.tcp.tls_cert else "tcp"
            self.addresses.append(f"{scheme}:{host}:{port}")
            log.info(
                "TCP listener on %s:%d needs the token in %s", host, port, self._home.token_path
            )

    async def _shutdown(self) -> None:
        log.info("stopping: cancelling %d run(s) in flight", self.runs.running_count)
        self.runs.stopping = True
        try:
            await self.observer.stop()
            await self.runs.stop()
        finally:
            self.hub.close_all()
            await asyncio.gather(*(server.stop(STOP_GRACE) for server in self._servers))
            self.pool.stop()
            self.store.close()
            self._home.remove_running()
            log.info("stopped")
