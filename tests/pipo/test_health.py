"""/healthz, /readyz, the worker's heartbeat and the staff-only status page."""

import io
import socket
import time

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django_q.models import Schedule
from django_q.tasks import async_task

from tests.support.ollama import unused_loopback_url

pytestmark = pytest.mark.django_db

READY_PARTS = {"database", "redis", "chroma", "ollama", "worker"}


@pytest.fixture(autouse=True)
def no_heartbeat_yet(settings, tmp_path):
    """Each test starts as if the worker never ran: a fresh var folder, an empty cache."""
    settings.VAR_DIR = tmp_path
    cache.clear()


def worker_beats() -> None:
    """What the worker does every minute, through django-q2 (sync in the test settings)."""
    async_task(Schedule.objects.get(name="worker-heartbeat").func)


def test_healthz_answers_signed_out_and_touches_no_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        started = time.perf_counter()
        response = client.get("/healthz")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")
    assert elapsed < 0.5


def test_the_heartbeat_is_scheduled_every_minute_without_keeping_each_success():
    beat = Schedule.objects.get(name="worker-heartbeat")
    assert (beat.func, beat.schedule_type, beat.minutes, beat.repeats) == (
        "memory.tasks.worker_heartbeat_task",
        Schedule.MINUTES,
        1,
        -1,
    )
    assert beat.kwargs == "q_options={'save': False}"


def test_readyz_ok_when_every_part_answers(client, ollama, settings):
    worker_beats()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == READY_PARTS
    for name, check in body["checks"].items():
        assert set(check) == {"status", "required", "latency_ms", "detail"}, name
        assert isinstance(check["latency_ms"], float) and check["latency_ms"] >= 0
        assert check["detail"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["chroma"]["status"] == "ok"
    assert body["checks"]["ollama"] == {
        **body["checks"]["ollama"],
        "status": "ok",
        "required": False,
    }
    assert body["checks"]["worker"]["detail"].startswith("last heartbeat 0 s ago from pid ")
    assert body["checks"]["redis"]["status"] == ("ok" if settings.REDIS_URL else "not configured")


def test_readyz_is_degraded_but_200_without_ollama(client):
    worker_beats()  # Ollama stays at the test settings' closed port
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["ollama"]["status"] == "down"
    assert "can't reach the language model" in body["checks"]["ollama"]["detail"]


def test_readyz_503_while_the_worker_never_beat(client, ollama):
    response = client.get("/readyz")
    assert response.status_code == 503
    worker = response.json()["checks"]["worker"]
    assert worker["status"] == "down" and worker["required"] is True
    assert "no heartbeat yet" in worker["detail"] and "manage.py qcluster" in worker["detail"]


def test_readyz_503_when_the_heartbeat_is_stale(client, ollama, settings):
    worker_beats()
    settings.PIPO_WORKER_HEARTBEAT_STALE_SECONDS = 1
    assert client.get("/readyz").status_code == 200
    time.sleep(1.2)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert "over the 1 s limit" in response.json()["checks"]["worker"]["detail"]


def test_each_task_a_worker_starts_is_a_beat_too(client, ollama):
    # A one-worker cluster busy with a long task still beats when it starts the next one.
    from django_q.signals import post_execute_in_worker, pre_execute

    for sync, worker_state in ((True, "down"), (False, "ok")):  # sync runs inline: no beat
        task = {"sync": sync}
        pre_execute.send(sender="django_q", func=print, task=task)
        post_execute_in_worker.send(sender="django_q", func=print, task=task)
        assert client.get("/readyz").json()["checks"]["worker"]["status"] == worker_state


def test_the_heartbeat_reaches_the_web_process_through_either_store(client, ollama):
    # Embedded (per-process cache): the file. With Redis: the shared cache.
    worker_beats()
    cache.clear()
    assert client.get("/readyz").json()["checks"]["worker"]["status"] == "ok"


def test_readyz_503_when_chroma_does_not_answer(client, ollama, settings):
    worker_beats()
    settings.CHROMA_URL = unused_loopback_url()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["chroma"]["status"] == "down"
    assert settings.CHROMA_URL in body["checks"]["chroma"]["detail"]


def test_readyz_503_when_the_database_does_not_answer(client, ollama, monkeypatch, tmp_path):
    worker_beats()
    # The check opens its own connection (in its own thread), so it meets the bad name.
    monkeypatch.setitem(connection.settings_dict, "NAME", str(tmp_path / "missing" / "pipo.db"))
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["status"] == "down"
    assert "not answering" in body["checks"]["database"]["detail"]


def test_readyz_never_waits_past_the_timeout_for_a_silent_part(client, ollama, settings):
    worker_beats()
    settings.PIPO_READINESS_TIMEOUT_SECONDS = 0.5
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.CHROMA_URL = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.perf_counter()
        response = client.get("/readyz")
        elapsed = time.perf_counter() - started
    assert response.status_code == 503
    assert response.json()["checks"]["chroma"]["detail"] == "no answer within 0.5 s"
    assert elapsed < 2.0


def test_status_page_is_for_staff_only(client, django_user_model):
    assert client.get("/status/")["Location"].startswith("/accounts/signin")
    person = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    client.force_login(person)
    assert client.get("/status/").status_code == 404
    assert b'href="/status/"' not in client.get("/").content


def test_status_page_shows_the_readyz_parts_with_latency(admin_client):
    worker_beats()
    page = admin_client.get("/status/")
    assert page.status_code == 200
    text = page.content.decode()
    for part in ("database", "vector store", "language model", "worker", "last heartbeat"):
        assert part in text
    assert " ms</td>" in text
    partial = admin_client.get("/status/", headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<div id="components"')
    assert "last heartbeat" in partial.content.decode()
    assert b'href="/status/"' in admin_client.get("/").content


def test_pipo_status_command_has_the_heartbeat_line():
    out = io.StringIO()
    with pytest.raises(CommandError):  # Ollama is down in the test settings
        call_command("pipo_status", stdout=out)
    assert "no heartbeat yet" in out.getvalue()
    worker_beats()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("pipo_status", stdout=out)
    assert "last heartbeat 0 s ago" in out.getvalue()
