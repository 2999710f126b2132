"""What `make run` starts: Daphne and the django-q2 worker under honcho, on embedded defaults.

A person's first visit, end to end over real HTTP: sign up, reach the chat page, sign out.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, pipo_environment, wait_for_http

BIN = Path(sys.executable).parent


@pytest.fixture
def running_pipo(tmp_path):
    env = pipo_environment(tmp_path / "var")
    port = free_port()
    env.update(PIPO_HOST="127.0.0.1", PIPO_PORT=str(port))
    log = tmp_path / "honcho.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/accounts/signin/", process=process, log=log, seconds=60)
    yield url, process, log
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_first_visit_sign_up_chat_sign_out(running_pipo):
    url, process, log = running_pipo
    with httpx.Client(base_url=url, follow_redirects=True, timeout=30) as browser:
        home = browser.get("/")
        assert home.url.path == "/accounts/signin/"
        assert "htmx-2.0.11.min.js" in home.text
        assert browser.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200

        form = browser.get("/accounts/signup/")
        chat = browser.post(
            "/accounts/signup/",
            data={
                "csrfmiddlewaretoken": csrf_of(form.text),
                "email": "newcomer@example.test",
                "password": "a-long-passphrase-42",
            },
        )
        assert chat.url.path == "/"
        assert "Hello, newcomer@example.test" in chat.text

        signed_out = browser.post(
            "/accounts/signout/", data={"csrfmiddlewaretoken": csrf_of(chat.text)}
        )
        assert signed_out.url.path == "/accounts/signin/"
        assert "You are signed out." in signed_out.text
        assert browser.get("/").url.path == "/accounts/signin/"

    assert "qcluster" in log.read_text().lower() or "cluster" in log.read_text().lower()
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=30) is not None
    assert "web.1" in log.read_text() and "worker.1" in log.read_text()
