"""Run a hub: open the database, bind the port (clear errors for both), serve with uvicorn until stopped."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable

import uvicorn

from mlway.core.errors import InputError
from mlway.hub.app import create_app
from mlway.hub.settings import HubSettings
from mlway.hub.store import HubStore

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; an InputError naming the port and the fix if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} on {host} is already in use (another hub or server is listening there)",
                hint="stop that process or choose another --port",
            ) from exc
        if exc.errno == errno.EACCES:
            raise InputError(
                f"no permission to listen on port {port}", hint="use a port above 1023, e.g. --port 8700"
            ) from exc
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint="check --host (an address of this machine)"
        ) from exc
    sock.set_inheritable(True)
    return sock


def serve(settings: HubSettings, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; the database is closed after the last request finished."""
    store = HubStore.open(settings.data)
    try:
        sock = bind(settings.host, settings.port)
        port = sock.getsockname()[1]
        app = create_app(settings, store)
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=10)
        server = uvicorn.Server(config)
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        if on_ready is not None:
            on_ready(f"http://{host}:{port}")
        server.run(sockets=[sock])
    finally:
        store.close()
