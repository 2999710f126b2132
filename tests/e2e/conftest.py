"""Browser tests: Playwright for Python driving Debian's Chromium against a real Daphne."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    free_port,
    pipo_environment,
    service_missing,
    stop_process,
    wait_for_http,
)
from tests.support.ollama import OllamaServer

CHROMIUM = Path(os.environ.get("PIPO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Never `playwright install` (it downloads): use the distribution's Chromium.
    if not CHROMIUM.exists():
        service_missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_FLAGS}


@pytest.fixture
def ollama_for_browser():
    server = OllamaServer(token_delay=0.04).start()
    yield server
    server.stop()


@pytest.fixture
def live_pipo(tmp_path, ollama_for_browser):
    """Daphne serving PIPO on embedded defaults, talking to the Ollama stand-in."""
    env = pipo_environment(tmp_path / "var", OLLAMA_HOST=ollama_for_browser.url)
    port = free_port()
    log = tmp_path / "daphne.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
             "pipo.asgi:application"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/accounts/signin/", process=process, log=log, seconds=60)
    yield url
    stop_process(process)
