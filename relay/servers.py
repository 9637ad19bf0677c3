"""Running an ASGI app on 127.0.0.1 in a background thread (the embedded API, demo sandboxes)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from relay.logs import uvicorn_log_config


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free port, read it from `getsockname()`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ServerThread:
    def __init__(self, app: Any, sock: socket.socket, *, log_level: str = "warning") -> None:
        self.sock = sock
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=False,
            lifespan="on",
            log_config=uvicorn_log_config(LOGGING_CONFIG),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True, name="http"
        )

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class RestartableServer:
    """An HTTP server that can stop listening for a while (connections refused) and come
    back on the same port: a case system that is down for a period."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.server = ServerThread(app, bind(host, port))
        self.port: int = self.server.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def outage(self, after: float, length: float) -> threading.Thread:
        """Refuse connections from `after` seconds from now, for `length` seconds."""

        def down_and_up() -> None:
            time.sleep(after)
            self.server.stop()
            time.sleep(length)
            self.server = ServerThread(self.app, bind(self.host, self.port))
            self.server.start()

        thread = threading.Thread(target=down_and_up, daemon=True, name="outage")
        thread.start()
        return thread
