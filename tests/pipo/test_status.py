"""`pipo_status` and /status/: each part's backend, and whether it answers."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from pipo.status import status_all, status_auth, status_llm, status_redis, status_vector_store
from tests.conftest import IN_CI

pytestmark = pytest.mark.django_db


def test_ci_runs_on_postgresql():
    if not IN_CI:
        pytest.skip("outside CI the suite runs on SQLite")
    assert connection.vendor == "postgresql"


def test_command_lists_every_part_and_fails_while_one_is_down():
    out = io.StringIO()
    with pytest.raises(CommandError, match="Some parts are not answering"):
        call_command("pipo_status", stdout=out)
    text = " ".join(re.findall(r"[^\s│┃]+", out.getvalue()))  # undo the table's wrapping
    for part in ("database", "short-term", "vector store", "memory", "auth", "language model"):
        assert part in text
    assert "PIPO can't reach the language model at http://127.0.0.1:9" in text


def test_embedded_defaults_are_named(settings):
    settings.REDIS_URL = ""
    redis_part = status_redis()
    assert redis_part.ok
    assert "in-memory channel layer" in redis_part.backend
    auth = status_auth()
    assert auth.ok and auth.backend == "Django's own users"


def test_redis_answers(redis_url):
    part = status_redis()
    assert part.ok, part.detail
    assert part.backend.startswith("Redis at redis://")


def test_redis_down_is_reported(settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    part = status_redis()
    assert not part.ok
    assert "not answering" in part.detail


def test_vector_store_on_the_chroma_server(settings, chroma_server):
    settings.CHROMA_URL = chroma_server
    part = status_vector_store()
    assert part.ok, part.detail
    assert part.backend == f"Chroma server at {chroma_server}"


def test_supabase_auth_answers_and_then_does_not(supabase):
    assert status_auth().ok
    supabase.stop()
    part = status_auth()
    assert not part.ok
    assert part.backend == f"Supabase Auth at {supabase.url}"


def test_llm_down_names_the_fix():
    part = status_llm()
    assert not part.ok
    assert "ollama serve; ollama pull mistral" in part.detail


def test_status_page_and_its_htmx_partial(admin_client):
    page = admin_client.get("/status/")
    assert page.status_code == 200
    assert b"<html" in page.content
    assert b"vector store" in page.content
    partial = admin_client.get("/status/", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b"<html" not in partial.content
    assert partial.content.decode().lstrip().startswith('<div id="components"')
    assert len(status_all()) == 7  # with the worker's heartbeat


def test_memory_part_names_the_models_and_the_vector_backlog(django_user_model):
    from django.utils import timezone

    from memory.models import Memory
    from pipo.status import status_memory

    part = status_memory()
    assert part.ok
    assert part.backend == (
        "embeddings: all-MiniLM-L6-v2; importance: rules (run manage.py train_importance)"
    )
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    Memory.objects.create(user=ada, text="x", said_at=timezone.now())  # pending vector
    part = status_memory()
    assert not part.ok and "1 memories wait for their vectors" in part.detail
