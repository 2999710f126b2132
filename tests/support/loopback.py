"""What the stand-in servers share: an HTTP/1.1 server on 127.0.0.1 that can really stop.

`stop()` on a plain ThreadingHTTPServer leaves keep-alive connections and in-flight
streams open; tracking each connection lets `close_connections` cut them.
"""

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


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


class LoopbackService:
    """start/stop/`with` for a stand-in served by a TrackedHTTPServer in a daemon thread.

    Subclasses set `self._lock`, `self._httpd = self._thread = self._url = None` in their
    `__init__`, and build their server in `_server_create`.
    """

    thread_name = "loopback"
    _lock: threading.RLock
    _httpd: TrackedHTTPServer | None
    _thread: threading.Thread | None
    _url: str | None

    def _server_create(self) -> TrackedHTTPServer:
        raise NotImplementedError

    def _stopping(self, httpd: TrackedHTTPServer) -> None:
        """Called before the server shuts down (e.g. to tell streams to end)."""

    def _stopped(self) -> None:
        """Called once the server has stopped."""

    def start(self) -> Self:
        """Start serving (no-op if already started). Returns ``self``."""
        with self._lock:
            if self._httpd is not None:
                return self
            httpd = self._server_create()
            port = httpd.server_address[1]
            self._url = f"http://127.0.0.1:{port}"
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{self.thread_name}-{port}",
                daemon=True,
            )
            self._httpd, self._thread = httpd, thread
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and cut open connections (no-op if not running)."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        self._stopping(httpd)
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._stopped()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start() first")
        return self._url

    @property
    def running(self) -> bool:
        return self._httpd is not None
