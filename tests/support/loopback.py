"""What the stand-in servers share: an HTTP/1.1 server on 127.0.0.1 that can really stop.

`stop()` on a plain ThreadingHTTPServer leaves keep-alive connections and in-flight
streams open; tracking each connection lets `close_connections` cut them.
"""

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class TrackedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Python's default backlog of 5 makes Linux reset connections when 50 clients (the
    # streaming bench) connect at once.
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Cut keep-alive connections and in-flight streams so a stopped server really stops."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class TrackedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers, body and each streamed chunk go out in separate writes: without this,
    # Nagle's algorithm holds each keep-alive request for ~40 ms.
    disable_nagle_algorithm = True
    server: TrackedHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return
