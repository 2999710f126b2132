"""PIPO scaled out on loopback: several Daphne processes and one django-q2 cluster.

The processes share the Redis channel layer and task broker (REDIS_URL), one database
(DATABASE_URL, or a SQLite file in a private PIPO_VAR_DIR) and a Chroma server, as the
compose file's replicas do. People get in through the real sign-up page; their chat
sockets are opened with the `websockets` client and the session cookie, as a browser's.
Used by tests/pipo/test_scale_out.py and bench/load.py; it raises ClusterError rather
than calling pytest, so the benchmark can use it too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRIPPED = ("DATABASE_URL", "REDIS_URL", "CHROMA_", "SUPABASE_", "DJANGO_")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CONVERSATION_PATH = re.compile(r"^/c/(\d+)/$")
# Frames of the chat socket (chat/consumers.py, chat/templates/chat/_message.html).
TOKEN = re.compile(r'<span hx-swap-oob="beforeend:#message-(\d+)-text">(.*?)</span>', re.S)
FINISHED = re.compile(r'<article id="message-(\d+)"[^>]*hx-swap-oob="true"[^>]*data-status="(\w+)"')
OPENING = 'hx-swap-oob="beforeend:#messages"'


class ClusterError(RuntimeError):
    """A process of the cluster did not start, or a page did not answer as expected."""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_scratch_create(database_url: str) -> str:
    """A new, empty PostgreSQL database beside DATABASE_URL's; returns its URL."""
    import uuid

    import psycopg

    parts = urlsplit(database_url)
    name = f"{parts.path.lstrip('/') or 'pipo'}_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_scratch_drop(database_url: str, scratch_url: str) -> None:
    import psycopg

    name = urlsplit(scratch_url).path.lstrip("/")
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise ClusterError(f"manage.py {args[0]} failed:\n{done.stdout}{done.stderr}"[-4000:])
    return done.stdout


@dataclass
class PipoCluster:
    """`daphnes` Daphne processes and one qcluster, sharing Redis, a database and Chroma."""

    folder: Path
    redis_url: str
    chroma_url: str
    ollama_url: str
    daphnes: int = 2
    database_url: str = ""  # empty: a SQLite file in folder/var, shared by the processes
    extra_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict, init=False)
    ports: list[int] = field(default_factory=list, init=False)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def start(self) -> PipoCluster:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
        self.env.update(
            PIPO_VAR_DIR=str(self.folder / "var"),
            REDIS_URL=self.redis_url,
            CHROMA_URL=self.chroma_url,
            OLLAMA_HOST=self.ollama_url,
            # The stand-in's bag-of-words vectors: a first MiniLM export per fresh var/ dir
            # would cost each run minutes of CPU that this setup does not measure.
            PIPO_EMBEDDINGS="ollama:mistral",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        if self.database_url:
            self.env["DATABASE_URL"] = self.database_url
        manage(self.env, "migrate", "--noinput")
        # The worker runs only what is queued: a due schedule would, on a fresh database,
        # train the importance classifier for minutes on the cores being measured.
        manage(self.env, "shell", "-c", "from django_q.models import Schedule; "
               "Schedule.objects.all().delete()")  # fmt: skip
        try:
            for index in range(self.daphnes):
                port = free_port()
                self.ports.append(port)
                self._spawn(f"daphne-{index + 1}", [str(BIN / "daphne"), "-b", "127.0.0.1",
                            "-p", str(port), "pipo.asgi:application"])  # fmt: skip
            self._spawn("worker", [sys.executable, "manage.py", "qcluster"])
            for index, url in enumerate(self.urls):
                self._wait_http(f"{url}/accounts/signin/", f"daphne-{index + 1}")
            self._wait_log("worker", re.compile(r"running", re.I))
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, command: list[str]) -> None:
        with self.log(name).open("w") as log_file:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            tail = self.log(name).read_text(errors="replace")[-3000:]
            raise ClusterError(f"{name} exited with {process.returncode}:\n{tail}")

    def _wait_http(self, url: str, name: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._alive(name)
            try:
                httpx.get(url, timeout=2.0)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise ClusterError(f"{name} did not answer {url} within {seconds:.0f} s")

    def _wait_log(self, name: str, pattern: re.Pattern, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._alive(name)
            if pattern.search(self.log(name).read_text(errors="replace")):
                return
            time.sleep(0.2)
        raise ClusterError(f"{name} did not log {pattern.pattern!r} within {seconds:.0f} s")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def query(self, code: str) -> str:
        """Run Python in a Django shell of the cluster (same database); returns its stdout."""
        return manage(self.env, "shell", "-c", code)


def person_sign_up(base_url: str, email: str, password: str) -> tuple[str, int]:
    """Sign up through the real page, open a conversation: (session cookie, conversation id)."""
    with httpx.Client(base_url=base_url, follow_redirects=True, timeout=60) as browser:
        form = browser.get("/accounts/signup/")
        page = browser.post(
            "/accounts/signup/",
            data={"csrfmiddlewaretoken": _csrf(form.text), "email": email, "password": password},
        )
        if page.url.path != "/":
            raise ClusterError(f"sign-up of {email} ended on {page.url.path}: {page.text[:500]}")
        room = browser.post("/c/new/", data={"csrfmiddlewaretoken": _csrf(page.text)})
        found = CONVERSATION_PATH.match(room.url.path)
        if found is None:
            raise ClusterError(f"a new conversation of {email} ended on {room.url.path}")
        return browser.cookies["sessionid"], int(found.group(1))


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    if found is None:
        raise ClusterError("the page has no CSRF token")
    return found.group(1)


def socket_url(base_url: str, conversation_id: int) -> str:
    return f"{base_url.replace('http://', 'ws://', 1)}/ws/chat/{conversation_id}/"


def chroma_server_start(folder: Path, port: int) -> subprocess.Popen:
    """`chroma run` on loopback (the tests' chroma_server fixture does the same)."""
    log = folder / "chroma.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(folder / "chroma-data"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterError(f"chroma exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1.0)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise ClusterError("chroma did not answer within 60 s")
