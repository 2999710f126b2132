"""Export and import of all of a person's data: round trip, refusals, duplicates."""

import json
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from accounts.services import persona_update
from chat.models import Conversation, DailySummary, Message
from chat.portability import account_export, account_import
from memory.models import Memory, Portrait
from memory.services import memory_consolidate, memory_space_for
from memory.vectors import vectors_ids

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", email="bob@example.test")


def at(days_ago: float):
    return NOW - timedelta(days=days_ago)


@pytest.fixture
def ada_with_data(ada):
    persona_update(
        user=ada, assistant_name="Nova", tone="warm", traits=["curious", "brief"],
        instructions="Call me Ada.",
    )  # fmt: skip
    Portrait.objects.create(user=ada, text="Ada is a nurse in Lisbon.", memory_count=3, model="m")
    chat = Conversation.objects.create(user=ada, title="Moving")
    said = [
        Message.objects.create(conversation=chat, role=role, content=text, model="mistral")
        for role, text in [
            ("user", "I live in Lisbon with my partner Sam"),
            ("assistant", "Lovely! How long have you lived there?"),
            ("user", "We are moving to Porto next month"),
        ]
    ]
    for i, message in enumerate(said):
        Message.objects.filter(pk=message.pk).update(created_at=at(3 - i * 0.01))
    Message.objects.filter(pk=said[1].pk).update(reply_tokens=9, duration_ms=300, status="stopped")
    secret = Conversation.objects.create(user=ada, title="Off the record", temporary=True)
    Message.objects.create(conversation=secret, role="user", content="Just between us")
    lisbon = memory_consolidate(
        user=ada, text=said[0].content, said_at=at(3), source_message_id=said[0].pk, keep_all=True
    )
    porto = memory_consolidate(
        user=ada, text=said[2].content, said_at=at(2.9), source_message_id=said[2].pk,
        keep_all=True, supersede=False,
    )  # fmt: skip
    day = memory_consolidate(
        user=ada, text="Ada talked about moving from Lisbon to Porto.", said_at=at(2.5),
        keep_all=True, supersede=False,
    )  # fmt: skip
    Memory.objects.filter(pk=lisbon.pk).update(
        superseded_by=porto, pinned=True, access_count=4, last_accessed_at=at(1), strength=12.5
    )
    Memory.objects.filter(pk=day.pk).update(
        kind="summary", source_message_ids=[said[0].pk, said[2].pk]
    )
    DailySummary.objects.create(
        user=ada, day=at(3).date(), text="Ada talked about moving.", conversation_count=1,
        message_ids=[said[0].pk, said[2].pk], memory_id=day.pk, model="mistral",
    )  # fmt: skip
    return ada


def normalised(export: dict) -> dict:
    """The export with file ids replaced by positions, so two people's files compare."""
    data = json.loads(json.dumps(export))
    data.pop("exported_at")
    data["portrait"].pop("updated_at")
    message_ids, memory_ids = {}, {}
    for conversation in data["conversations"]:
        conversation["id"] = None
        for message in conversation["messages"]:
            message_ids[message["id"]] = len(message_ids)
            message["id"] = message_ids[message["id"]]
    for memory in data["memories"]:
        memory_ids[memory["id"]] = len(memory_ids)
    for memory in data["memories"]:
        memory["id"] = memory_ids[memory["id"]]
        memory["source_messages"] = [message_ids[i] for i in memory["source_messages"]]
        for key in ("superseded_by", "merged_into"):
            memory[key] = memory_ids.get(memory[key])
    for summary in data["summaries"]:
        summary["messages"] = [message_ids[i] for i in summary["messages"]]
        summary["memory"] = memory_ids.get(summary["memory"])
    return data


def as_bytes(data: dict) -> bytes:
    return json.dumps(data).encode()


def counts(user) -> tuple[int, ...]:
    return (
        Conversation.objects.filter(user=user).count(),
        Message.objects.filter(conversation__user=user).count(),
        Memory.objects.filter(user=user).count(),
        DailySummary.objects.filter(user=user).count(),
        Portrait.objects.filter(user=user).count(),
        Profile.objects.filter(user=user).count(),
    )


def test_round_trip_into_a_fresh_person(ada_with_data, bob, django_capture_on_commit_callbacks):
    exported = account_export(user=ada_with_data)
    assert exported["format"] == "pipo-export" and exported["version"] == 1
    assert exported["persona"] == {
        "assistant_name": "Nova", "tone": "warm", "traits": ["curious", "brief"],
        "instructions": "Call me Ada.",
    }  # fmt: skip
    assert len(exported["memories"]) == 3 and len(exported["conversations"]) == 2

    with django_capture_on_commit_callbacks(execute=True):
        report = account_import(user=bob, data=as_bytes(exported))

    assert report.ok, report.problems
    assert (report.memories, report.conversations, report.messages, report.summaries) == (
        3,
        2,
        4,
        1,
    )
    assert report.persona and report.portrait
    assert normalised(account_export(user=bob)) == normalised(exported)
    lisbon = Memory.objects.get(user=bob, text__startswith="I live in Lisbon")
    assert lisbon.superseded_by.text.startswith("We are moving")
    assert Message.objects.get(pk=lisbon.source_message_id).conversation.user == bob
    assert Conversation.objects.get(user=bob, title="Off the record").temporary
    # The vectors followed after commit: bob can recall what he imported.
    assert vectors_ids(collection=memory_space_for(user=bob).collection) == set(
        Memory.objects.filter(user=bob).values_list("pk", flat=True)
    )
    assert not Memory.objects.filter(user=bob).exclude(vector_status="synced").exists()


def test_importing_the_same_file_twice_adds_nothing(ada_with_data, bob):
    data = as_bytes(account_export(user=ada_with_data))
    assert account_import(user=bob, data=data).ok
    before = counts(bob)
    again = account_import(user=bob, data=data)
    assert again.ok
    assert (again.memories, again.memories_skipped) == (0, 3)
    assert (again.conversations, again.conversations_skipped) == (0, 2)
    assert (again.summaries, again.summaries_skipped) == (0, 1)
    assert counts(bob) == before
    # Into the person it came from, too.
    back = account_import(user=ada_with_data, data=data)
    assert back.ok and back.memories == 0 and back.memories_skipped == 3


def refused(user, data: bytes) -> list[str]:
    before = counts(user)
    report = account_import(user=user, data=data)
    assert not report.ok
    assert counts(user) == before, "a refused import must write nothing"
    return [str(problem) for problem in report.problems]


def test_malformed_json_is_refused(bob):
    assert refused(bob, b'{"format": "pipo-export", "version": 1,')[0].startswith(
        "file: is not valid JSON"
    )
    assert refused(bob, b"\xff\xfe not text") == ["file: is not UTF-8 text: is it a PIPO export?"]
    assert refused(bob, b"[1, 2]") == ["file: must be an object"]
    assert refused(bob, b"[" * 100_000) == ["file: is nested too deeply to be a PIPO export"]


def test_a_file_over_the_limit_is_refused(ada_with_data, bob, settings):
    data = as_bytes(account_export(user=ada_with_data))
    settings.PIPO_IMPORT_MAX_BYTES = len(data) - 1
    assert refused(bob, data) == [
        f"file: is {len(data):,} bytes; the limit is {len(data) - 1:,} (PIPO_IMPORT_MAX_BYTES)"
    ]


def test_wrong_format_or_version_is_refused(ada_with_data, bob):
    exported = account_export(user=ada_with_data)
    assert refused(bob, as_bytes({**exported, "version": 2})) == [
        "version: is 2; this PIPO reads version 1"
    ]
    assert refused(bob, as_bytes({**exported, "version": True}))[0].startswith("version:")
    assert refused(bob, as_bytes({**exported, "format": "mem0"}))[0].startswith("format:")


def test_wrong_types_are_all_reported_and_nothing_is_imported(ada_with_data, bob):
    exported = account_export(user=ada_with_data)
    exported["memories"][1]["importance"] = "high"
    exported["memories"][2]["said_at"] = "yesterday"
    exported["memories"][0]["superseded_by"] = 10**9
    exported["memories"][0]["text"] = "   "
    exported["memories"][0]["pinned"] = "yes"
    exported["conversations"][0]["messages"][1]["role"] = "system"
    exported["conversations"][1]["title"] = "x" * 121
    exported["summaries"][0]["day"] = "2025-02-30"
    exported["persona"]["traits"] = ["kind", 7]
    problems = refused(bob, as_bytes(exported))
    assert set(problems) == {
        "memories[1].importance: must be a number between 0 and 1",
        "memories[2].said_at: must be an ISO 8601 date and time with a timezone, "
        "e.g. 2025-05-01T09:30:00+00:00",
        "memories[0].superseded_by: no memory with id 1000000000 in this file",
        "memories[0].text: can't be empty",
        "memories[0].pinned: must be true or false",
        "conversations[0].messages[1].role: must be one of user, assistant",
        "conversations[1].title: must be at most 120 characters (it has 121)",
        "summaries[0].day: must be a date, YYYY-MM-DD",
        "persona.traits[1]: must be text of at most 40 characters",
    }
    exported = account_export(user=ada_with_data)
    exported["memories"] = {"not": "a list"}
    exported["conversations"][0]["messages"][0]["id"] = exported["conversations"][0]["messages"][1][
        "id"
    ]
    problems = refused(bob, as_bytes(exported))
    assert "memories: must be a list" in problems
    assert any(
        p.startswith("conversations[0].messages[1].id:") and "used twice" in p for p in problems
    )


def test_the_data_page_exports_and_imports(client, ada_with_data, bob):
    client.force_login(ada_with_data)
    download = client.get(reverse("chat:data_export"))
    assert download.status_code == 200
    disposition = download["Content-Disposition"]
    named = re.fullmatch(
        r'attachment; filename="pipo-export-(\d{4}-\d{2}-\d{2})\.json"', disposition
    )
    assert named and date.fromisoformat(named.group(1)) == timezone.localdate()
    assert json.loads(download.content)["persona"]["assistant_name"] == "Nova"

    client.force_login(bob)
    page = client.get(reverse("chat:data"))
    assert b'enctype="multipart/form-data"' in page.content
    good = ("pipo.json", download.content)
    response = client.post(
        reverse("chat:data"), {"file": _upload(*good)}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.strip().startswith('<div id="import-result"')
    assert "3 memories" in body and Memory.objects.filter(user=bob).count() == 3

    bad = client.post(
        reverse("chat:data"),
        {"file": _upload("x.json", b'{"format": "pipo-export", "version": 9}')},
    )
    assert bad.status_code == 422
    assert "Nothing was imported" in bad.content.decode()
    assert "this PIPO reads version 1" in bad.content.decode()
    missing = client.post(reverse("chat:data"), {})
    assert missing.status_code == 422 and "Choose a PIPO export file" in missing.content.decode()


def test_an_upload_over_the_limit_is_refused_before_reading(client, bob, settings):
    settings.PIPO_IMPORT_MAX_BYTES = 10
    client.force_login(bob)
    response = client.post(
        reverse("chat:data"), {"file": _upload("big.json", b"{" + b" " * 50 + b"}")}
    )
    assert response.status_code == 422
    assert "Nothing was imported" in response.content.decode()
    assert counts(bob) == (0, 0, 0, 0, 0, 0)


def _upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/json")


def test_a_memory_twice_in_one_file_is_imported_once_and_links_still_resolve(ada_with_data, bob):
    exported = account_export(user=ada_with_data)
    twin = {**exported["memories"][1], "id": 777}
    older = {**exported["memories"][0], "superseded_by": 777}
    exported["memories"] = [older, exported["memories"][1], twin, exported["memories"][2]]
    report = account_import(user=bob, data=as_bytes(exported))
    assert report.ok, report.problems
    assert (report.memories, report.memories_skipped) == (3, 1)
    lisbon = Memory.objects.get(user=bob, text__startswith="I live in Lisbon")
    assert lisbon.superseded_by.text == exported["memories"][1]["text"]
