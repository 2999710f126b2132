"""Structured logs: JSON lines, request and conversation ids, and no message text."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from chat.models import Conversation, Message
from memory.models import Memory
from memory.services import memory_recall
from pipo.logging import ContentRedactionFilter, JsonFormatter, LogContextFilter, log_context
from pipo.routing import websocket_urlpatterns

SECRET = "SECRET-PLUM-4217"


@pytest.fixture
def json_log():
    """The root logger's records as PIPO's console handler writes them in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.addFilter(ContentRedactionFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    # Our own loggers at DEBUG too: no level may carry what people wrote.
    ours = [logging.getLogger(name) for name in ("chat", "memory", "pipo", "accounts", "django-q")]
    levels = [logger.level for logger in ours]
    for logger in ours:
        logger.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    for logger, level in zip(ours, levels, strict=True):
        logger.setLevel(level)


def test_a_json_line_has_time_level_logger_message_and_the_ids(json_log):
    with log_context(request_id="req-1", conversation_id=7):
        logging.getLogger("pipo.test").warning("reply %s failed", 12, extra={"attempt": 2})
    logging.getLogger("pipo.test").info("outside")
    inside, outside = json_log()
    assert inside["message"] == "reply 12 failed"
    assert (inside["level"], inside["logger"]) == ("WARNING", "pipo.test")
    assert (inside["request_id"], inside["conversation_id"]) == ("req-1", "7")
    assert inside["attempt"] == 2
    assert inside["time"].endswith("+00:00")
    assert "request_id" not in outside and "conversation_id" not in outside


def test_an_exception_is_one_json_line(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("pipo.test").exception("it broke")
    (line,) = json_log()
    assert "ValueError: boom" in line["exception"]


def test_production_logs_json_lines_and_development_text(tmp_path):
    script = (
        "import django, logging; django.setup(); logging.getLogger('pipo.x').warning('hi %s', 1)"
    )
    base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pipo.settings",
        "PIPO_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "pipo.test",
    }
    base.pop("PIPO_LOG_FORMAT", None)
    for env, is_json in (
        ({"DJANGO_ENV": "production"}, True),
        ({"DJANGO_ENV": "development"}, False),
    ):
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**base, **env},
            cwd=django_settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        if is_json:
            assert json.loads(last)["message"] == "hi 1"
        else:
            assert last.endswith("WARNING pipo.x [- -]: hi 1")


@pytest.mark.django_db
def test_request_id_is_echoed_and_on_the_requests_log_lines(client, json_log):
    response = client.get("/no-such-page", headers={"X-Request-ID": "edge-42.a:b"})
    assert response.status_code == 404
    assert response["X-Request-ID"] == "edge-42.a:b"
    (line,) = [r for r in json_log() if r["logger"] == "django.request"]
    assert line["request_id"] == "edge-42.a:b"
    assert line["status_code"] == 404


@pytest.mark.parametrize("sent", [None, "", "two words", "x" * 200, "id\nforged line"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, sent):
    headers = {"X-Request-ID": sent} if sent is not None else {}
    response = client.get("/healthz", headers=headers)
    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"] != sent
    assert response["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_query_strings_stay_out_of_logged_paths_unless_content_logging_is_on(settings, json_log):
    server_log = logging.getLogger("django.channels.server")
    server_log.info("HTTP %(method)s %(path)s", {"method": "GET", "path": f"/memories/?q={SECRET}"})
    settings.PIPO_LOG_CONTENT = True
    server_log.info("HTTP %(method)s %(path)s", {"method": "GET", "path": f"/memories/?q={SECRET}"})
    redacted, kept = (r["message"] for r in json_log())
    assert redacted == "HTTP GET /memories/?…"
    assert kept == f"HTTP GET /memories/?q={SECRET}"


@database_sync_to_async
def _conversation() -> Conversation:
    from accounts.models import User

    user = User.objects.create(username="ada", email="ada@example.test", first_name="Ada")
    return Conversation.objects.create(user=user)


@database_sync_to_async
def _after_the_turn(conversation: Conversation) -> tuple[list[Message], list[Memory], list]:
    user = conversation.user
    recalled = memory_recall(user=user, query=f"what is my locker code {SECRET}", k=3)
    return list(conversation.messages.all()), list(Memory.objects.filter(user=user)), recalled


@pytest.mark.django_db(transaction=True)
async def test_a_chat_turn_logs_its_ids_and_none_of_its_text(ollama, json_log):
    ollama.reply = f"Noted: your locker code is {SECRET}."
    conversation = await _conversation()
    socket = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns),
        f"/ws/chat/{conversation.pk}/",
        headers=[(b"x-request-id", b"ws-77")],
    )
    socket.scope["user"] = await database_sync_to_async(lambda: conversation.user)()
    assert (await socket.connect())[0]
    text = f"Please remember this important fact: my locker code is {SECRET}."
    await socket.send_to(text_data=json.dumps({"message": text}))
    while "<article" not in (frame := await socket.receive_from(timeout=30)) or (
        'data-status="streaming"' in frame
    ):
        pass
    await socket.disconnect()

    messages, memories, recalled = await _after_the_turn(conversation)
    assert [m.content for m in messages] == [text, ollama.reply]  # the turn happened
    assert any(SECRET in m.text for m in memories)  # consolidated
    assert recalled and SECRET in recalled[0].text  # and recalled
    lines = json_log()
    (reply_line,) = [r for r in lines if r["message"].startswith(f"reply {messages[1].pk} ")]
    assert reply_line["logger"] == "chat.streaming"  # the loop the socket and the API share
    assert (reply_line["request_id"], reply_line["conversation_id"]) == (
        "ws-77",
        str(conversation.pk),
    )
    # The consolidation task ran on the context the turn queued it with.
    queued = [r for r in lines if r["logger"] == "django-q"]
    assert queued and all(r.get("conversation_id") == str(conversation.pk) for r in queued)
    assert SECRET not in json.dumps(lines)
