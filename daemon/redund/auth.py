"""Who may talk to the daemon: the TCP listening rules and the token check.

The daemon runs whatever code it is sent, so:

* the Unix socket (mode 0600) is the default and needs nothing more;
* TCP is opt-in, needs the token (metadata ``authorization: Bearer <token>``);
* a non-loopback address is refused unless TLS certificates are given.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
from dataclasses import dataclass

from redund.errors import StartError


@dataclass(frozen=True, slots=True)
class TcpListen:
    """A validated ``--tcp HOST:PORT`` (with TLS files when not loopback)."""

    host: str
    port: int
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_tcp(text: str, *, tls_cert: str = "", tls_key: str = "") -> TcpListen:
    """Validate a ``HOST:PORT`` to listen on.

    Raises:
        StartError: malformed, or not loopback without TLS (``usage=True``).
    """
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise StartError(f"--tcp takes HOST:PORT, e.g. 127.0.0.1:50051, got {text!r}", usage=True)
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise StartError(f"--tcp {text!r}: port must be a number 0-65535", usage=True) from None
    if bool(tls_cert) != bool(tls_key):
        raise StartError("TLS needs both --tls-cert and --tls-key", usage=True)
    for path in (tls_cert, tls_key):
        if path and not os.path.isfile(path):
            raise StartError(f"TLS file not found: {path}", usage=True)
    if not tls_cert and not is_loopback(host):
        raise StartError(
            f"refusing to listen on {host} without TLS: the daemon runs the code it is sent. "
            "Listen on 127.0.0.1, or give --tls-cert and --tls-key",
            usage=True,
        )
    return TcpListen(host, port, tls_cert, tls_key)


def is_loopback(host: str) -> bool:
    """True if every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def token_matches(metadata: tuple | list, token: str) -> bool:
    """Whether call metadata carries ``authorization: Bearer <token>``."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            scheme, _, given = value.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
                return True
    return False


def make_interceptor(token: str, token_path: str):  # type: ignore[no-untyped-def]
    """A grpc.aio server interceptor refusing calls without the token (UNAUTHENTICATED)."""
    import grpc

    message = (
        "this daemon's TCP listener needs its token: send metadata 'authorization: Bearer "
        f"<token>' (the token is in {token_path}, readable by the daemon's owner)"
    )

    async def deny_unary(request, context):  # type: ignore[no-untyped-def]
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def deny_stream(request, context):  # type: ignore[no-untyped-def]
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator

    class TokenInterceptor(grpc.aio.ServerInterceptor):
        async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
            if token_matches(handler_call_details.invocation_metadata, token):
                return await continuation(handler_call_details)
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            if handler.response_streaming:
                return grpc.unary_stream_rpc_method_handler(deny_stream)
            return grpc.unary_unary_rpc_method_handler(deny_unary)

    return TokenInterceptor()
