"""A small, real HTTP fake of the Ollama server for tests.

``OllamaServer`` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (free
port) in a daemon thread and speaks Ollama's REST API, so the real ``ollama``
client (``ollama.Client`` / ``ollama.AsyncClient``) works against it::

    with OllamaServer(reply="Hello there!", token_delay=0.01) as server:
        client = ollama.Client(host=server.url)
        for part in client.chat(model="mistral", messages=[...], stream=True):
            ...
        assert server.requests_for("/api/chat")[0]["messages"][-1]["content"] == "..."

What it mirrors from the real server:

* ``POST /api/chat`` and ``POST /api/generate`` stream NDJSON
  (``application/x-ndjson``, chunked, one line per token, each flushed at once)
  ending with a ``done: true`` line carrying ``done_reason`` and the counts and
  nanosecond durations; ``stream: false`` answers one JSON object;
* a model is found by name with Ollama's implicit ``:latest`` tag, otherwise
  404 ``{"error": "model \\"x\\" not found, try pulling it first"}``;
* a failure after streaming began is an ``{"error": ...}`` line (the client
  raises ``ResponseError`` with ``status_code == -1``);
* ``GET /api/tags``, ``GET /api/version``, ``POST /api/embed``, ``POST
  /api/show``, ``GET /api/ps``, ``GET /`` ("Ollama is running"); anything else
  answers 404 ``404 page not found`` (text/plain, as gin does).

The reply text comes from ``reply``: a string, a callable ``(messages) -> str``,
or ``None`` for the echo ``"You said: <last user message>"``.  It is split by
``tokens_of`` (joining the tokens gives the text back).  ``options.num_predict``
truncates it (``done_reason: "length"``).  Embeddings are deterministic
bag-of-words hashes (see ``embedding_of``): the same text gives the same
L2-normalised vector and texts sharing words are closer than unrelated ones.

Knobs (plain attributes, read per request or per chunk, safe to change while
running): ``reply``, ``models``, ``token_delay``, ``first_token_delay``,
``fault`` (``None``, ``"drop_mid_stream"``, ``"error_mid_stream"``,
``"http_500"``), ``drop_after_tokens`` and ``fault_message``.  Observations:
``request_log``, ``requests_for(path)``, ``headers_for(path)``, ``active_streams`` and
``stream_closed_early`` (a client went away while a stream was being written).

Simplifications: no tool calls, thinking, images, ``format`` or stop sequences;
every configured model can both chat and embed; the delays stand in for
generation time (a non-streamed answer waits for all of them).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import random
import re
import select
import socket
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackService, TrackedHandler, TrackedHTTPServer

__all__ = ["FAULTS", "OllamaServer", "embedding_of", "tokens_of", "unused_loopback_url"]

VERSION = "0.12.0"
FAULTS = (None, "drop_mid_stream", "error_mid_stream", "http_500")
_TOKEN_RE = re.compile(r"\S+\s*|\s+")
_WORD_RE = re.compile(r"\w+")

Reply = str | Callable[[list[dict[str, Any]]], str] | None


def tokens_of(text: str) -> list[str]:
    """The fake's tokenisation: words with their trailing whitespace; ``"".join`` restores it."""
    return _TOKEN_RE.findall(text)


@functools.lru_cache(maxsize=8192)
def _word_vector(word: str, dim: int) -> tuple[float, ...]:
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    return tuple(rng.gauss(0.0, 1.0) for _ in range(dim))


def embedding_of(text: str, dim: int = 384) -> list[float]:
    """The vector ``/api/embed`` returns for ``text``: a sum of per-word vectors, L2-normalised."""
    words = _WORD_RE.findall(text.lower()) or [text]
    total = [0.0] * dim
    for word in words:
        for i, value in enumerate(_word_vector(word, dim)):
            total[i] += value
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    return [v / norm for v in total]


def unused_loopback_url() -> str:
    """``http://127.0.0.1:<port>`` of a port that was free a moment ago (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _canonical(name: str) -> str:
    name = name.strip().lower()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _iso(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _family(name: str) -> str:
    base = name.split(":", 1)[0].rsplit("/", 1)[-1]
    return re.split(r"[^a-z0-9]", base.lower())[0] or "llama"


def _details(name: str) -> dict[str, Any]:
    family = _family(name)
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "7.2B",
        "quantization_level": "Q4_0",
    }


class _ClientGone(Exception):
    """The peer closed the connection (or a write to it failed)."""


class _Stopping(Exception):
    """``stop()`` was called while the request was in flight."""


class _HTTPServer(TrackedHTTPServer):
    def __init__(self, owner: OllamaServer) -> None:
        self.owner = owner
        self.stopping = threading.Event()
        super().__init__(_Handler)


class _Handler(TrackedHandler):
    server_version = f"OllamaFake/{VERSION}"
    server: _HTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            self.server.owner._dispatch(self, self.command, urlsplit(self.path).path, raw)
        except (_ClientGone, _Stopping):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    # ------------------------------------------------------------ writing

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except OSError as exc:
            raise (_Stopping() if self.server.stopping.is_set() else _ClientGone()) from exc

    def send_body(self, status: int, payload: bytes, content_type: str) -> None:
        def send() -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        self._guard(send)

    def send_json(self, status: int, body: Any) -> None:
        self.send_body(status, json.dumps(body).encode(), "application/json; charset=utf-8")

    def start_stream(self) -> None:
        def send() -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        self._guard(send)

    def write_line(self, obj: dict[str, Any]) -> None:
        """One NDJSON line as one HTTP chunk, written (and so flushed) immediately."""
        data = json.dumps(obj).encode() + b"\n"
        self._guard(lambda: self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)))

    def end_stream(self) -> None:
        self._guard(lambda: self.wfile.write(b"0\r\n\r\n"))

    def drop(self) -> None:
        """Close the connection abruptly: the client sees an incomplete body."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` while watching the socket: raise as soon as the peer hangs up."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if self.server.stopping.is_set():
                raise _Stopping
            remaining = max(0.0, deadline - time.monotonic())
            try:
                readable, _, _ = select.select([self.connection], [], [], remaining)
                peeked = self.connection.recv(1, socket.MSG_PEEK) if readable else None
            except (OSError, ValueError) as exc:
                raise _ClientGone from exc
            if self.server.stopping.is_set():
                raise _Stopping
            if peeked == b"":
                raise _ClientGone
            if peeked:  # a pipelined request is waiting: nothing more to watch
                time.sleep(max(0.0, deadline - time.monotonic()))
                return
            if time.monotonic() >= deadline:
                return


class OllamaServer(LoopbackService):
    thread_name = "ollama-fake"

    """Ollama's REST API over real HTTP on loopback. See the module docstring."""

    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("mistral:latest",),
        reply: Reply = None,
        token_delay: float = 0.0,
        first_token_delay: float = 0.0,
        embedding_dim: int = 384,
    ) -> None:
        self.models = tuple(models)
        self.reply: Reply = reply
        self.token_delay = token_delay
        self.first_token_delay = first_token_delay
        self.embedding_dim = embedding_dim
        self.fault: str | None = None
        self.drop_after_tokens = 3  # tokens sent before drop_mid_stream / error_mid_stream
        self.fault_message = "an error was encountered while running the model: unexpected EOF"
        self.request_log: list[tuple[str, str, Any]] = []
        self.header_log: list[tuple[str, dict[str, str]]] = []  # (path, request headers)
        self.active_streams = 0
        self.stream_closed_early = 0

        self._lock = threading.RLock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._modified_at = _iso()
        self._loaded: dict[str, datetime] = {}  # model -> expires_at, for /api/ps

    # ----------------------------------------------------------- lifecycle

    def _server_create(self) -> _HTTPServer:
        return _HTTPServer(self)

    def _stopping(self, httpd: _HTTPServer) -> None:
        httpd.stopping.set()

    def _stopped(self) -> None:
        self.wait_idle(timeout=2)  # cut streams notice at once (their wait watches the socket)

    def __repr__(self) -> str:
        return f"<OllamaServer models={self.models} url={self._url or '(not started)'}>"

    def requests_for(self, path: str) -> list[Any]:
        """The JSON bodies (``None`` when absent) of the requests made to ``path``, in order."""
        with self._lock:
            return [body for _, logged, body in self.request_log if logged == path]

    def headers_for(self, path: str) -> list[dict[str, str]]:
        """The headers (names lower-cased) of the requests made to ``path``, in order."""
        with self._lock:
            return [headers for logged, headers in self.header_log if logged == path]

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until no stream is being written (a client may finish reading first)."""
        deadline = time.monotonic() + timeout
        while self.active_streams and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.active_streams == 0

    def reply_for(self, messages: list[dict[str, Any]]) -> str:
        """The full reply the server gives to ``messages`` with the current ``reply`` knob."""
        reply = self.reply
        if reply is None:
            users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            return "You said: " + (str(users[-1].get("content") or "") if users else "")
        text = reply if isinstance(reply, str) else reply(messages)
        if not isinstance(text, str):
            raise TypeError(f"reply must produce a str, not {type(text).__name__}")
        return text

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, h: _Handler, method: str, path: str, raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            raw_error: str | None = "invalid character in request body"
        else:
            raw_error = None
        with self._lock:
            self.request_log.append((method, path, body))
            self.header_log.append((path, {k.lower(): v for k, v in h.headers.items()}))
        routes: dict[tuple[str, str], Callable[[_Handler, dict[str, Any]], None]] = {
            ("POST", "/api/chat"): self._handle_chat,
            ("POST", "/api/generate"): self._handle_generate,
            ("POST", "/api/embed"): self._handle_embed,
            ("POST", "/api/show"): self._handle_show,
            ("GET", "/api/tags"): lambda h, _: h.send_json(200, {"models": self._tags()}),
            ("GET", "/api/ps"): lambda h, _: h.send_json(200, {"models": self._ps()}),
            ("GET", "/api/version"): lambda h, _: h.send_json(200, {"version": VERSION}),
        }
        if path == "/" and method in ("GET", "HEAD"):
            return h.send_body(200, b"Ollama is running", "text/plain; charset=utf-8")
        route = routes.get((method, path))
        if route is None:
            return h.send_body(404, b"404 page not found", "text/plain")
        if raw_error is not None or (raw and not isinstance(body, dict)):
            return h.send_json(400, {"error": raw_error or "request body must be a JSON object"})
        try:
            route(h, body or {})
        except (_ClientGone, _Stopping):
            raise
        except Exception as exc:  # a bug in the fake or in a reply callable: say so loudly
            traceback.print_exc()
            with contextlib.suppress(_ClientGone, _Stopping):
                h.send_json(500, {"error": f"fake ollama: {exc!r}"})

    def _model(self, h: _Handler, body: dict[str, Any], *, load: bool = True) -> str | None:
        """The requested model name as given, or ``None`` after answering 400/404."""
        name = body.get("model")
        if not isinstance(name, str) or not name.strip():
            h.send_json(400, {"error": "model is required"})
            return None
        wanted = _canonical(name)
        if not any(_canonical(m) == wanted for m in self.models):
            h.send_json(404, {"error": f'model "{name}" not found, try pulling it first'})
            return None
        if load:
            with self._lock:
                self._loaded[wanted] = datetime.now(UTC) + timedelta(minutes=5)
        return name

    # ------------------------------------------------------------ handlers

    def _handle_chat(self, h: _Handler, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        if not isinstance(messages, list):
            return h.send_json(400, {"error": "messages must be a list"})

        def part(text: str) -> dict[str, Any]:
            return {"message": {"role": "assistant", "content": text}}

        self._generate(h, body, messages, part)

    def _handle_generate(self, h: _Handler, body: dict[str, Any]) -> None:
        messages = [{"role": "user", "content": str(body.get("prompt") or "")}]
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": str(body["system"])})
        self._generate(h, body, messages, lambda text: {"response": text})

    def _generate(
        self,
        h: _Handler,
        body: dict[str, Any],
        messages: list[Any],
        part: Callable[[str], dict[str, Any]],
    ) -> None:
        started = time.perf_counter_ns()
        model = self._model(h, body)
        if model is None:
            return
        fault = self.fault
        if fault == "http_500":
            return h.send_json(500, {"error": self.fault_message})
        tokens = tokens_of(self.reply_for(messages))
        done_reason = "stop"
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, done_reason = tokens[:limit], "length"
        prompt_count = sum(
            len(tokens_of(str(m.get("content") or ""))) for m in messages if isinstance(m, dict)
        )

        def head(text: str, done: bool) -> dict[str, Any]:
            return {"model": model, "created_at": _iso(), **part(text), "done": done}

        def final() -> dict[str, Any]:
            elapsed = time.perf_counter_ns() - started
            prompt_ns, eval_ns = prompt_count * 50_000, max(elapsed, len(tokens) * 20_000)
            return {
                **head("", True),
                "done_reason": done_reason,
                "total_duration": 1_000_000 + prompt_ns + eval_ns,
                "load_duration": 1_000_000,
                "prompt_eval_count": prompt_count,
                "prompt_eval_duration": prompt_ns,
                "eval_count": len(tokens),
                "eval_duration": eval_ns,
            }

        faulty = fault in ("drop_mid_stream", "error_mid_stream")
        sent = tokens[: self.drop_after_tokens] if faulty else tokens
        if body.get("stream") is False:
            h.pause(self.first_token_delay + self.token_delay * max(0, len(sent) - 1))
            if fault == "drop_mid_stream":
                return h.drop()
            if fault == "error_mid_stream":
                return h.send_json(500, {"error": self.fault_message})
            return h.send_json(200, {**final(), **part("".join(tokens))})

        with self._lock:
            self.active_streams += 1
        try:
            h.pause(self.first_token_delay)
            h.start_stream()
            for index, token in enumerate(sent):
                if index:
                    h.pause(self.token_delay)
                h.write_line(head(token, False))
            if fault == "drop_mid_stream":
                return h.drop()
            h.pause(0)
            h.write_line({"error": self.fault_message} if faulty else final())
            h.end_stream()
        except _ClientGone:
            h.close_connection = True
            with self._lock:
                self.stream_closed_early += 1
        finally:
            with self._lock:
                self.active_streams -= 1

    def _handle_embed(self, h: _Handler, body: dict[str, Any]) -> None:
        started = time.perf_counter_ns()
        model = self._model(h, body)
        if model is None:
            return
        if self.fault == "http_500":
            return h.send_json(500, {"error": self.fault_message})
        raw = body.get("input", [])
        inputs = [raw] if isinstance(raw, str) else raw
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return h.send_json(400, {"error": "invalid input type"})
        dim = self.embedding_dim
        wanted = body.get("dimensions")
        if isinstance(wanted, int) and 0 < wanted < dim:
            dim = wanted
        embeddings = [embedding_of(text, dim) for text in inputs]
        h.send_json(
            200,
            {
                "model": model,
                "embeddings": embeddings,
                "total_duration": time.perf_counter_ns() - started + 1_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": sum(len(tokens_of(t)) for t in inputs),
            },
        )

    def _handle_show(self, h: _Handler, body: dict[str, Any]) -> None:
        model = self._model(h, body, load=False)
        if model is None:
            return
        family = _family(model)
        h.send_json(
            200,
            {
                "modelfile": f"FROM {model}\n",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": _details(model),
                "model_info": {
                    "general.architecture": family,
                    "general.parameter_count": 7_248_023_552,
                    f"{family}.context_length": 32768,
                    f"{family}.embedding_length": self.embedding_dim,
                },
                "capabilities": ["completion", "embedding"],
                "modified_at": self._modified_at,
            },
        )

    def _tags(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "model": name,
                "modified_at": self._modified_at,
                "size": 4_113_301_824,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": _details(name),
            }
            for name in self.models
        ]

    def _ps(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        with self._lock:
            loaded = {name: at for name, at in self._loaded.items() if at > now}
        return [
            {
                "name": name,
                "model": name,
                "size": 5_137_025_024,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": _details(name),
                "expires_at": _iso(expires_at),
                "size_vram": 5_137_025_024,
                "context_length": 4096,
            }
            for name, expires_at in loaded.items()
        ]
