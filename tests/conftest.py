"""Shared fixtures: real servers on loopback for every component PIPO talks to.

Under CI=true a test whose service is missing fails; on a laptop it is skipped with the
reason, so `make test` passes on embedded defaults alone.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings

from accounts.tokens import jwks_cache_clear
from tests.support.gotrue import GoTrueServer
from tests.support.ollama import OllamaServer

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI must provide it)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"{url} did not answer within {seconds}s:\n{log.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


ROOT = Path(__file__).resolve().parents[1]


def pipo_environment(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a PIPO process on embedded defaults, with a private var/."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CHROMA_", "SUPABASE_", "DJANGO_"))
    }
    env.update({"PIPO_VAR_DIR": str(var_dir), "OLLAMA_HOST": "http://127.0.0.1:9", **extra})
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def chroma_start(folder: Path, port: int) -> subprocess.Popen:
    """A real Chroma server (`chroma run` from the chromadb package) on loopback."""
    log = folder / f"chroma-{port}.log"
    with log.open("a") as log_file:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(folder / "data"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", process=process, log=log, seconds=60)
    return process


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = chroma_start(tmp_path_factory.mktemp("chroma-server"), port)
    yield f"http://127.0.0.1:{port}"
    stop_process(process)


@pytest.fixture(scope="session", autouse=True)
def _vector_store_for_the_run(request: pytest.FixtureRequest) -> None:
    # .ci/run sets PIPO_TEST_CHROMA=server: then every test's vectors go to the real server.
    if os.environ.get("PIPO_TEST_CHROMA") == "server":
        django_settings.CHROMA_URL = request.getfixturevalue("chroma_server")


@pytest.fixture
def redis_url() -> str:
    if not django_settings.REDIS_URL:
        service_missing("REDIS_URL is not set: this test needs a Redis server")
    return django_settings.REDIS_URL


def supabase_configure(settings, server: GoTrueServer) -> None:
    settings.SUPABASE_URL = server.url
    settings.SUPABASE_ANON_KEY = server.anon_key
    settings.SUPABASE_JWT_SECRET = server.jwt_secret if server.alg == "HS256" else ""
    settings.SUPABASE_JWKS_URL = f"{server.issuer}/.well-known/jwks.json"
    settings.SUPABASE_JWT_ISSUER = server.issuer
    jwks_cache_clear()


@pytest.fixture
def gotrue() -> Iterator[GoTrueServer]:
    """A GoTrue stand-in signing ES256 tokens (Supabase's asymmetric keys)."""
    server = GoTrueServer(alg="ES256").start()
    yield server
    server.stop()


@pytest.fixture
def supabase(settings, gotrue: GoTrueServer) -> Iterator[GoTrueServer]:
    """PIPO in Supabase mode against the ES256 stand-in."""
    supabase_configure(settings, gotrue)
    yield gotrue
    jwks_cache_clear()


@pytest.fixture(params=["HS256", "ES256"])
def supabase_any_alg(request: pytest.FixtureRequest, settings) -> Iterator[GoTrueServer]:
    """PIPO in Supabase mode, once with the legacy JWT secret and once with JWKS keys."""
    server = GoTrueServer(alg=request.param).start()
    supabase_configure(settings, server)
    yield server
    server.stop()
    jwks_cache_clear()


@pytest.fixture
def ollama(settings) -> Iterator[OllamaServer]:
    """The Ollama stand-in, with PIPO pointed at it."""
    server = OllamaServer().start()
    settings.OLLAMA_HOST = server.url
    yield server
    server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in this thread until the session
    # ends, which async tests after it can't share: browser tests go last.
    items.sort(key=lambda item: "/e2e/" in str(item.path))
