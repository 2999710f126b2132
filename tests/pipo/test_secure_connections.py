"""Secured connections: Redis passwords and TLS, Chroma's token, PostgreSQL's sslmode, Ollama
behind a proxy or tunnel, and Supabase's keys kept on the server.

Real servers where this machine has them: redis-server with a password and with TLS (a
certificate made here), `chroma run` behind a token gate, the Ollama and GoTrue stand-ins.
"""

import datetime
import ipaddress
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.urls import reverse

from accounts.services import SUPABASE_SESSION_KEY
from memory.embeddings import OllamaEmbedder
from memory.vectors import VectorStoreUnavailable, vectors_nearest, vectors_upsert
from pipo.llm import llm_chat_stream, llm_json, llm_status
from tests.conftest import free_port, stop_process, supabase_configure
from tests.support.gotrue import GoTrueServer

ROOT = Path(__file__).resolve().parents[2]


def settings_process(tmp_path: Path, script: str, **variables: str) -> subprocess.CompletedProcess:
    """Run `script` in a PIPO process whose settings come from `variables` alone."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CHROMA_", "DJANGO_", "OLLAMA_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="pipo.settings", PIPO_VAR_DIR=str(tmp_path), **variables)
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


# --- Redis -------------------------------------------------------------------------------

POOLS = """
import django, json
django.setup()
from channels_redis.utils import create_pool
from django.conf import settings
from django.core.cache import cache
from django_q.brokers.redis_broker import Redis

pools = {
    "channel layer": create_pool(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]),
    "cache": cache._cache._get_connection_pool(True),
    "task broker": Redis.get_connection().connection_pool,
}
keys = ("host", "port", "db", "username", "password", "ssl_ca_certs")
print(json.dumps({
    name: {
        "class": pool.connection_class.__name__,
        **{k: pool.connection_kwargs.get(k) for k in keys},
    }
    for name, pool in pools.items()
}))
"""


def test_rediss_url_with_password_reaches_every_redis_client(tmp_path):
    url = "rediss://:s3cret@redis.example.com:6380/0?ssl_ca_certs=/etc/ssl/redis-ca.pem"
    result = settings_process(tmp_path, POOLS, REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    expected = {
        "class": "SSLConnection",
        "host": "redis.example.com",
        "port": 6380,
        "db": 0,
        "username": None,
        "password": "s3cret",
        "ssl_ca_certs": "/etc/ssl/redis-ca.pem",
    }
    pools = json.loads(result.stdout)
    assert set(pools) == {"channel layer", "cache", "task broker"}
    for name, found in pools.items():
        assert found == expected, name


ROUND_TRIP = """
import asyncio, django, json
django.setup()
from channels.layers import get_channel_layer
from django.core.cache import cache
from django_q.brokers import get_broker

def attempt(part):
    try:
        return part()
    except Exception as exc:
        return type(exc).__name__

async def through_channels():
    layer = get_channel_layer()
    name = await layer.new_channel()
    await layer.send(name, {"type": "probe", "text": "through the channel layer"})
    return (await layer.receive(name))["text"]

def through_broker():
    broker = get_broker("secure-probe")
    broker.enqueue("a task")
    return broker.dequeue()[0][1].decode()

print(json.dumps({
    "cache": attempt(lambda: cache.set("probe", "cached", 30) or cache.get("probe")),
    "channels": attempt(lambda: asyncio.run(through_channels())),
    "broker": attempt(through_broker),
}))
"""
WORKING = {"cache": "cached", "channels": "through the channel layer", "broker": "a task"}


def redis_start(folder: Path, *arguments: str) -> subprocess.Popen:
    log = folder / "redis.log"
    process = subprocess.Popen(
        ["redis-server", "--save", "", "--appendonly", "no", "--dir", str(folder), *arguments],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while "Ready to accept connections" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            pytest.fail(f"redis-server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return process


@pytest.fixture
def password_redis(tmp_path) -> Iterator[int]:
    port = free_port()
    process = redis_start(tmp_path, "--port", str(port), "--requirepass", "door-pw")
    yield port
    stop_process(process)


def test_password_protected_redis_carries_cache_channels_and_tasks(tmp_path, password_redis):
    url = f"redis://:door-pw@127.0.0.1:{password_redis}/0"
    result = settings_process(tmp_path, ROUND_TRIP, REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == WORKING


def test_wrong_redis_password_is_refused_everywhere(tmp_path, password_redis):
    url = f"redis://:not-the-pw@127.0.0.1:{password_redis}/0"
    result = settings_process(tmp_path, ROUND_TRIP, REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout).values()) == {"AuthenticationError"}


def certificate_make(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pipo test redis")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "redis.crt", folder / "redis.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_redis_with_password_carries_cache_channels_and_tasks(tmp_path):
    cert_file, key_file = certificate_make(tmp_path)
    port = free_port()
    process = redis_start(
        tmp_path, "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert_file),
        "--tls-key-file", str(key_file), "--tls-ca-cert-file", str(cert_file),
        "--tls-auth-clients", "no", "--requirepass", "tls-pw",
    )  # fmt: skip
    try:
        url = f"rediss://:tls-pw@127.0.0.1:{port}/0?ssl_ca_certs={cert_file}"
        result = settings_process(tmp_path, ROUND_TRIP, REDIS_URL=url)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == WORKING
        # The certificate is checked: without the CA, the same server is refused.
        result = settings_process(
            tmp_path, ROUND_TRIP, REDIS_URL=f"rediss://:tls-pw@127.0.0.1:{port}/0"
        )
        assert "cached" not in result.stdout
        with pytest.raises(redis.ConnectionError):
            redis.Redis(host="127.0.0.1", port=port, password="tls-pw").ping()  # plain TCP
    finally:
        stop_process(process)


# --- PostgreSQL ----------------------------------------------------------------------------

DB_PARAMS = """
import django, json
django.setup()
from django.db import connection
params = connection.get_connection_params()
print(json.dumps({k: params.get(k) for k in ("host", "port", "dbname", "sslmode", "sslrootcert")}))
"""


def test_postgres_sslmode_from_the_url_reaches_psycopg(tmp_path):
    url = (
        "postgres://pipo:pw@db.example.supabase.co:5432/postgres"
        "?sslmode=verify-full&sslrootcert=/etc/ssl/supabase.crt"
    )
    result = settings_process(tmp_path, DB_PARAMS, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "host": "db.example.supabase.co",
        "port": 5432,
        "dbname": "postgres",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/supabase.crt",
    }


# --- Chroma ----------------------------------------------------------------------------------


class _TokenGate(BaseHTTPRequestHandler):
    """What deploy/chroma-gate.conf.template does: 401 without the token, else pass through."""

    protocol_version = "HTTP/1.1"
    server: "_GateServer"

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        presented = self.headers.get(self.server.header)
        self.server.presented.append(presented)
        if self.path != "/api/v2/heartbeat" and presented != self.server.expected:
            return self._answer(401, b'{"error": "Unauthorized"}', "application/json")
        upstream = httpx.request(
            self.command,
            self.server.upstream + self.path,
            content=body,
            headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
        )
        self._answer(
            upstream.status_code,
            upstream.content,
            upstream.headers.get("Content-Type", "application/json"),
        )

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


class _GateServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, upstream: str, header: str, expected: str) -> None:
        super().__init__(("127.0.0.1", 0), _TokenGate)
        self.upstream, self.header, self.expected = upstream, header, expected
        self.presented: list[str | None] = []


@pytest.fixture(params=[("X-Chroma-Token", "{}"), ("Authorization", "Bearer {}")])
def chroma_gate(request, chroma_server, settings) -> Iterator[_GateServer]:
    header, form = request.param
    token = secrets.token_hex(16)
    gate = _GateServer(upstream=chroma_server, header=header, expected=form.format(token))
    threading.Thread(target=gate.serve_forever, daemon=True).start()
    settings.CHROMA_URL = f"http://127.0.0.1:{gate.server_address[1]}"
    settings.CHROMA_AUTH_TOKEN_HEADER = header
    settings.CHROMA_AUTH_TOKEN = token
    gate.token = token
    yield gate
    gate.shutdown()
    gate.server_close()


def test_chroma_token_opens_the_gate(chroma_gate):
    collection = f"gate-{secrets.token_hex(4)}"
    vectors_upsert(collection=collection, ids=[7], vectors=[[0.1, 0.2, 0.3]])
    assert vectors_nearest(collection=collection, vector=[0.1, 0.2, 0.3], n=1)[0][0] == 7
    asked = [p for p in chroma_gate.presented if p is not None]
    assert asked and set(asked) == {chroma_gate.expected}


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_chroma_without_the_right_token_is_unavailable(chroma_gate, settings, token):
    settings.CHROMA_AUTH_TOKEN = token
    with pytest.raises(VectorStoreUnavailable, match=r"Chroma server at http://127\.0\.0\.1"):
        vectors_upsert(collection="gate-refused", ids=[1], vectors=[[0.1, 0.2, 0.3]])


def test_chroma_token_header_must_be_one_chroma_knows(tmp_path):
    result = settings_process(
        tmp_path, "import django; django.setup()", CHROMA_AUTH_TOKEN_HEADER="X-Token"
    )
    assert "CHROMA_AUTH_TOKEN_HEADER must be X-Chroma-Token or Authorization" in result.stderr


# --- Ollama behind a proxy or tunnel ---------------------------------------------------------

TUNNEL_HEADERS = {"Authorization": "Bearer tunnel-token==", "CF-Access-Client-Id": "pipo.access"}


def test_ollama_headers_are_parsed_from_the_environment(tmp_path):
    script = "import django, json; django.setup(); from django.conf import settings; "
    script += "print(json.dumps(settings.OLLAMA_HEADERS))"
    variable = "Authorization=Bearer tunnel-token==, CF-Access-Client-Id=pipo.access"
    result = settings_process(tmp_path, script, OLLAMA_HEADERS=variable)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == TUNNEL_HEADERS
    result = settings_process(tmp_path, script, OLLAMA_HEADERS="Bearer tunnel-token")
    assert "OLLAMA_HEADERS takes Name=value pairs" in result.stderr


def sent(server, path: str) -> list[dict[str, str]]:
    return [{k: h.get(k.lower()) for k in TUNNEL_HEADERS} for h in server.headers_for(path)]


@pytest.fixture
def tunnel(ollama, settings):
    settings.OLLAMA_HEADERS = TUNNEL_HEADERS
    return ollama


def test_every_sync_ollama_call_carries_the_headers(tunnel):
    tunnel.reply = '{"merged": true}'
    assert llm_status().model_available
    assert llm_json(system="Merge.", prompt="Two facts.") == {"merged": True}
    OllamaEmbedder(model="mistral").embed(["hello"])
    for path in ("/api/tags", "/api/chat", "/api/embed"):
        assert sent(tunnel, path) == [TUNNEL_HEADERS], path


async def test_streamed_replies_carry_the_headers(tunnel):
    tunnel.reply = "Hello through the tunnel"
    parts = [
        c.text
        async for c in llm_chat_stream(
            model="mistral", messages=[{"role": "user", "content": "hi"}]
        )
    ]
    assert "".join(parts) == "Hello through the tunnel"
    assert sent(tunnel, "/api/chat") == [TUNNEL_HEADERS]


def test_without_headers_nothing_extra_is_sent(ollama, settings):
    settings.OLLAMA_HEADERS = {}
    llm_status()
    assert sent(ollama, "/api/tags") == [dict.fromkeys(TUNNEL_HEADERS)]


# --- Supabase keys stay on the server --------------------------------------------------------


@pytest.mark.django_db
def test_no_key_or_token_reaches_a_page(client, settings):
    server = GoTrueServer(
        alg="HS256",
        anon_key="anon-" + secrets.token_hex(12),
        jwt_secret="jwt-secret-" + secrets.token_hex(16),
    ).start()
    try:
        supabase_configure(settings, server)
        settings.CHROMA_AUTH_TOKEN = "chroma-" + secrets.token_hex(12)
        settings.OLLAMA_HEADERS = {"Authorization": "Bearer ollama-" + secrets.token_hex(12)}
        anonymous = [client.get(reverse(name)) for name in ("accounts:signin", "accounts:signup")]
        signed_up = client.post(
            reverse("accounts:signup"),
            {"email": "ada@example.test", "password": "a-long-passphrase-42"},
            follow=True,
        )
        tokens = client.session[SUPABASE_SESSION_KEY]
        pages = [*anonymous, signed_up]
        for name in ("chat:index", "memory:index", "accounts:settings", "chat:data"):
            pages.append(client.get(reverse(name)))
        assert all(page.status_code == 200 for page in pages)
        private = [
            server.anon_key,
            server.jwt_secret,
            settings.SECRET_KEY,
            settings.CHROMA_AUTH_TOKEN,
            settings.OLLAMA_HEADERS["Authorization"],
            tokens["access_token"],
            tokens["refresh_token"],
        ]
        cookies = " ".join(morsel.value for morsel in client.cookies.values())
        for page in pages:
            text = page.content.decode()
            leaked = [value for value in private if value in text or value in cookies]
            assert not leaked, f"{page.request['PATH_INFO']} shows {leaked}"
    finally:
        server.stop()
