"""Bad input, fuzzed with hypothesis: the chat socket's frames, the services, the HTTP endpoints.

Whatever arrives, PIPO answers with a message the person can act on (or a normal
result), never a traceback, never a 500, never a crashed socket, and writes no row for
what it refused. Example counts are kept modest so the suite stays fast; the draws are
derandomized, so a failure shows up again on the next run.
"""

import html
import json
import string
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts.models import Profile, User
from accounts.services import persona_update
from chat.models import Conversation, DailySummary, Message
from chat.portability import account_import
from chat.services import MessageRejected, TurnStart, chat_turn_start, message_text_check
from memory.models import Consolidation, Memory, Portrait
from memory.services import (
    MemoryTextRejected,
    memory_consolidate,
    memory_create,
    memory_recall,
    memory_text_update,
)
from pipo.text import text_unstorable_reason
from tests.support.chat_socket import chat_socket_open

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written to .hypothesis/ in the checkout
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(FUZZ, max_examples=15)

# ---- what bad input looks like -------------------------------------------------------------

CONTROL = "".join(map(chr, range(0, 32))) + "\x7f\u0085\u2028\u2029\u200b\u200e\u202e\ufeff"
LONE_SURROGATES = ["\ud800", "\udfff", "\udbff", "\udc00"]
HUGE_INTS = st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**30, 10**400])

anything_text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(CONTROL)), max_size=300)
# JSON can carry a lone surrogate ("\ud800"); a Python str drawn with them stands for it.
text_with_unstorable = st.builds(
    lambda before, bad, after: before + bad + after,
    anything_text,
    st.sampled_from(["\x00", *LONE_SURROGATES]),
    anything_text,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=False, allow_infinity=False),
    anything_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(anything_text, inner, max_size=4)
    ),
    max_leaves=12,
)
not_text = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(),
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
)
blank_text = st.text(alphabet=" \t\r\n\x0b\x0c\u00a0\u2003\u3000", max_size=50)


def json_dumps(value) -> str:
    # Lone surrogates go out as \\ud800 escapes, as a browser's JSON.stringify would.
    return json.dumps(value, ensure_ascii=True)


def not_a_json_object(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), dict)
    except ValueError:
        return True


# ---- the chat websocket ----------------------------------------------------------------------

PROBE = '{"action": "probe-after-fuzz"}'
PROBE_ANSWER = "Unknown action: probe-after-fuzz"


@database_sync_to_async
def _conversation() -> Conversation:
    user, _ = User.objects.get_or_create(username="fuzz@example.test")
    conversation, _ = Conversation.objects.get_or_create(user=user, title="Fuzzed")
    return conversation


@database_sync_to_async
def _counts() -> tuple[int, int, int, str]:
    conversation = Conversation.objects.get(title="Fuzzed")
    return (
        Message.objects.count(),
        Memory.objects.count(),
        Conversation.objects.count(),
        str(conversation.updated_at),
    )


async def _answers_to(communicator: WebsocketCommunicator, frame: str) -> list[str]:
    """The frames the socket sends back for `frame`: everything before the probe's answer.

    The consumer handles frames one at a time, so once the probe (sent right after) is
    answered, `frame` has had all its answers; and the socket is still alive.
    """
    await communicator.send_to(text_data=frame)
    await communicator.send_to(text_data=PROBE)
    answers = []
    while True:
        answer = await communicator.receive_from(timeout=10)
        if PROBE_ANSWER in answer:
            return answers
        answers.append(answer)


def _finished(frame: str) -> bool:
    """The reply's finished bubble: the last frame of a turn."""
    return (
        'hx-swap-oob="true"' in frame
        and 'data-status="streaming"' not in frame
        and "<article" in frame
    )


def _assert_refused(answers: list[str], *, silent_allowed: bool = False) -> None:
    assert len(answers) <= 1, answers
    if not answers:
        assert silent_allowed, "a refused frame got no answer"
        return
    [answer] = answers
    assert 'id="composer-error"' in answer, answer
    assert "Traceback" not in answer and 'File "' not in answer


refused_frames = st.one_of(
    # not JSON, or JSON that is not an object (an empty frame can't be sent from a test)
    anything_text.filter(lambda frame: frame and not_a_json_object(frame)),
    json_values.filter(lambda v: not isinstance(v, dict)).map(json_dumps),
    st.sampled_from(["{", '{"message": "hi"', "[1, 2", "nul", "\x00", "{}}", '"just text"']),
    # a message of the wrong type, with random extra keys
    st.builds(
        lambda message, extra: json_dumps({**extra, "message": message}),
        not_text,
        st.dictionaries(st.sampled_from(["model", "extra", "id", "conversation"]), json_values),
    ),
    # an action PIPO does not know
    st.builds(
        lambda action, message: json_dumps({"action": action, "message": message}),
        st.one_of(
            anything_text.filter(lambda a: a and a not in ("send", "stop", "retry")),
            st.lists(st.text(max_size=4), min_size=1, max_size=3),
            st.integers(),
        ),
        anything_text,
    ),
    # a retry of no reply of the person's
    st.builds(
        lambda message_id: json_dumps({"action": "retry", "message_id": message_id}),
        st.one_of(not_text, HUGE_INTS, st.sampled_from(["²", "١٢", "1e5", " 7", "-1", "0x1f"])),
    ),
)


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(frame=refused_frames)
async def test_refused_frames_get_an_error_frame_and_write_nothing(frame):
    conversation = await _conversation()
    before = await _counts()
    communicator = await chat_socket_open(conversation)

    answers = await _answers_to(communicator, frame)
    await communicator.disconnect()

    _assert_refused(answers)
    assert await _counts() == before


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(message=blank_text, model=st.one_of(not_text, anything_text))
async def test_blank_messages_are_ignored_quietly(message, model):
    conversation = await _conversation()
    before = await _counts()
    communicator = await chat_socket_open(conversation)

    answers = await _answers_to(communicator, json_dumps({"message": message, "model": model}))
    await communicator.disconnect()

    _assert_refused(answers, silent_allowed=True)
    assert await _counts() == before


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(
    message=st.one_of(
        text_with_unstorable,
        st.integers(1, 3000).map(lambda extra: "x" * (16_000 + extra)),
    )
)
async def test_unstorable_or_over_long_messages_are_refused_with_a_reason(message):
    assume(message.strip())
    conversation = await _conversation()
    before = await _counts()
    communicator = await chat_socket_open(conversation)

    answers = await _answers_to(communicator, json_dumps({"message": message}))
    await communicator.disconnect()

    _assert_refused(answers)
    assert "limit is 16,000" in answers[0] or "can&#x27;t store" in answers[0]
    assert await _counts() == before


storable_text = anything_text.filter(lambda t: t.strip() and not text_unstorable_reason(text=t))


@pytest.mark.django_db(transaction=True)
@FEW
@given(
    message=storable_text,
    model=st.one_of(not_text, anything_text, text_with_unstorable),
)
async def test_any_storable_text_is_answered_and_saved_once(ollama, message, model):
    ollama.reply = None  # the stand-in echoes: "You said: <message>"
    conversation = await _conversation()
    before_messages = (await _counts())[0]
    communicator = await chat_socket_open(conversation)

    await communicator.send_to(text_data=json_dumps({"message": message, "model": model}))
    frames = []
    while True:
        frame = await communicator.receive_from(timeout=30)
        assert "Traceback" not in frame
        frames.append(frame)
        if _finished(frame):
            break
    await communicator.disconnect()

    rows = await database_sync_to_async(
        lambda: list(Message.objects.order_by("-pk")[:2].values_list("role", "content", "status"))
    )()
    reply = await database_sync_to_async(lambda: Message.objects.order_by("-pk").first())()
    assert (await _counts())[0] == before_messages + 2
    assert rows[1] == ("user", message.strip(), "complete")
    assert reply.role == "assistant"
    if reply.status == "complete":
        assert reply.content == f"You said: {message.strip()}"
    else:  # a model name the stand-in does not have: said in words, in the bubble
        assert reply.status == "failed" and reply.error and "Traceback" not in reply.error
        assert isinstance(model, str) and model != django_settings.OLLAMA_MODEL
        assert reply.error in html.unescape(frames[-1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "message",
    ["a" * 1_000_000, "é€😀\u202e" * 250_000, "\x00" * 1_000_000],
    ids=["ascii", "unicode", "nul"],
)
async def test_a_1mb_frame_is_refused_and_the_socket_closed_as_too_big(message):
    conversation = await _conversation()
    before = await _counts()
    communicator = await chat_socket_open(conversation)

    await communicator.send_to(text_data=json_dumps({"message": message}))
    answer = await communicator.receive_from(timeout=10)
    closed = await communicator.receive_output(timeout=10)

    assert "That frame is too large." in answer
    assert closed == {"type": "websocket.close", "code": 1009}
    assert await _counts() == before


@pytest.mark.django_db(transaction=True)
async def test_a_binary_frame_is_answered_in_words():
    conversation = await _conversation()
    communicator = await chat_socket_open(conversation)
    await communicator.send_to(bytes_data=b"\x00\xff" * 100)
    answer = await communicator.receive_from(timeout=10)
    await communicator.disconnect()
    assert "PIPO expects text frames." in answer


# ---- the services ----------------------------------------------------------------------------


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Conversation, Message, Memory, Consolidation, DailySummary, Portrait, Profile,
        )
    }  # fmt: skip


@FUZZ
@given(text=st.one_of(anything_text, text_with_unstorable, not_text, blank_text))
def test_message_text_check_returns_storable_text_or_refuses_in_words(text):
    try:
        checked = message_text_check(text=text)
    except MessageRejected as refused:
        blank = isinstance(text, str) and not text.strip()
        assert bool(refused.message) != blank, refused.message  # a blank one is just not sent
        return
    assert checked == text.strip() and checked
    assert not text_unstorable_reason(text=checked)
    assert len(checked) <= django_settings.PIPO_MAX_MESSAGE_CHARS


@pytest.mark.django_db
@FUZZ
@given(
    text=st.one_of(anything_text, text_with_unstorable, not_text, blank_text),
    conversation_id=st.one_of(st.just(None), st.integers(), HUGE_INTS),
)
def test_chat_turn_start_saves_a_turn_or_refuses_writing_nothing(ada, text, conversation_id):
    own = Conversation.objects.create(user=ada, title="Mine")
    before = row_counts()
    try:
        turn = chat_turn_start(
            user=ada,
            conversation_id=own.pk if conversation_id is None else conversation_id,
            text=text,
            model="mistral",
        )
    except (MessageRejected, PermissionDenied):
        assert row_counts() == before
        return
    assert isinstance(turn, TurnStart)
    assert row_counts()["Message"] == before["Message"] + 2
    assert turn.user_message.content == text.strip()


@pytest.mark.django_db
@FUZZ
@given(text=st.one_of(anything_text, text_with_unstorable, not_text, blank_text))
def test_memory_text_update_saves_or_refuses_leaving_the_memory_as_it_was(ada, text):
    memory = memory_create(
        user=ada, text="Ada lives in Lisbon", said_at=timezone.now(), importance=0.5, kind="fact"
    )
    before = row_counts()
    try:
        updated = memory_text_update(user=ada, memory_id=memory.pk, text=text)
    except MemoryTextRejected as refused:
        assert refused.message
        memory.refresh_from_db()
        assert memory.text == "Ada lives in Lisbon"
        return
    finally:
        assert row_counts() == before
    assert updated.text == text.strip()
    assert not text_unstorable_reason(text=updated.text)


persona_values = st.one_of(anything_text, text_with_unstorable, blank_text)


@pytest.mark.django_db
@FUZZ
@given(
    assistant_name=persona_values,
    tone=persona_values,
    traits=st.lists(st.one_of(persona_values, st.integers()), max_size=15),
    instructions=st.one_of(persona_values, st.text(min_size=1990, max_size=2100)),
)
def test_persona_update_saves_or_names_each_bad_field(
    ada, assistant_name, tone, traits, instructions
):
    persona_update(user=ada, assistant_name="Nova", tone="warm", traits=["kind"], instructions="")
    try:
        profile = persona_update(
            user=ada,
            assistant_name=assistant_name,
            tone=tone,
            traits=traits,
            instructions=instructions,
        )
    except ValidationError as refused:
        assert set(refused.message_dict) <= {"assistant_name", "tone", "traits", "instructions"}
        assert all(all(errors) for errors in refused.message_dict.values())
        profile = Profile.objects.get(user=ada)
        assert (profile.assistant_name, profile.tone, profile.traits) == ("Nova", "warm", ["kind"])
        return
    profile.refresh_from_db()
    assert profile.assistant_name == assistant_name.strip()
    assert not text_unstorable_reason(text=profile.instructions + "".join(profile.traits))


def _export(**overrides) -> dict:
    said = (timezone.now() - timedelta(days=1)).isoformat()
    return {
        "format": "pipo-export",
        "version": 1,
        "persona": {"assistant_name": "Nova", "tone": "", "traits": [], "instructions": ""},
        "portrait": {"text": "Ada is a nurse.", "memory_count": 1, "model": "m"},
        "conversations": [
            {
                "id": 1,
                "title": "Trip",
                "temporary": False,
                "created_at": said,
                "updated_at": said,
                "messages": [
                    {"id": 10, "role": "user", "content": "Hi", "created_at": said},
                ],
            }
        ],
        "memories": [{"id": 5, "text": "Ada is a nurse", "said_at": said}],
        "summaries": [{"day": said[:10], "text": "A quiet day", "messages": [10]}],
        **overrides,
    }


fields_to_spoil = st.sampled_from(
    [
        ("persona", "assistant_name"), ("persona", "tone"), ("persona", "traits"),
        ("portrait", "text"), ("portrait", "memory_count"),
        ("conversations", "title"), ("conversations", "created_at"), ("conversations", "id"),
        ("messages", "content"), ("messages", "role"), ("messages", "prompt_tokens"),
        ("memories", "text"), ("memories", "said_at"), ("memories", "importance"),
        ("memories", "strength"), ("summaries", "day"), ("summaries", "text"),
        ("summaries", "messages"),
    ]
)  # fmt: skip
spoiled_values = st.one_of(
    json_values,
    text_with_unstorable,
    HUGE_INTS,
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:00", "2025-13-01T00:00:00Z",
            float("nan"), float("inf"), -1, 2**31, "x" * 300_000, [], {}, None,
        ]
    ),
)  # fmt: skip


def _spoil(export: dict, where: tuple[str, str], value) -> dict:
    section, key = where
    if section == "messages":
        export["conversations"][0]["messages"][0][key] = value
    elif section in ("persona", "portrait"):
        export[section][key] = value
    else:
        export[section][0][key] = value
    return export


def _assert_import_all_or_nothing(ada, data: bytes, before: dict) -> None:
    report = account_import(user=ada, data=data)
    after = row_counts()
    if report.ok:
        return
    assert report.problems and all(str(problem) for problem in report.problems)
    assert all("Traceback" not in problem.reason for problem in report.problems)
    assert after == before


@pytest.mark.django_db
@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), anything_text.map(str.encode)))
def test_account_import_of_random_bytes_reports_problems_and_writes_nothing(ada, data):
    before = row_counts()
    report = account_import(user=ada, data=data)
    assert not report.ok
    assert report.problems[0].path == "file" or report.problems[0].path in ("format", "version")
    assert row_counts() == before


@pytest.mark.django_db
@FUZZ
@given(where=fields_to_spoil, value=spoiled_values)
def test_account_import_of_a_spoiled_export_writes_all_or_nothing(ada, where, value):
    data = json.dumps(_spoil(_export(), where, value), ensure_ascii=True).encode()
    _assert_import_all_or_nothing(ada, data, row_counts())


@pytest.mark.django_db
@FUZZ
@given(
    root=st.dictionaries(
        st.sampled_from(["persona", "portrait", "conversations", "memories", "summaries", "x"]),
        json_values,
        max_size=5,
    )
)
def test_account_import_of_wrong_shapes_reports_problems(ada, root):
    before = row_counts()
    data = json.dumps({"format": "pipo-export", "version": 1, **root}).encode()
    _assert_import_all_or_nothing(ada, data, before)


@pytest.mark.django_db
@FUZZ
@given(query=st.one_of(anything_text, text_with_unstorable, not_text, blank_text))
def test_memory_recall_answers_any_query_with_a_list(ada, query):
    memory_create(
        user=ada, text="Ada lives in Lisbon", said_at=timezone.now(), importance=0.5, kind="fact"
    )
    recalled = memory_recall(user=ada, query=query, k=3)
    assert isinstance(recalled, list)
    assert all(m.text == "Ada lives in Lisbon" for m in recalled)


@pytest.mark.django_db
@FUZZ
@given(text=st.one_of(anything_text, text_with_unstorable, not_text, blank_text))
def test_memory_consolidate_remembers_storable_text_or_nothing(ada, text):
    before = row_counts()
    memory = memory_consolidate(user=ada, text=text, said_at=timezone.now(), keep_all=True)
    if memory is None:
        assert row_counts()["Memory"] == before["Memory"]
        return
    assert isinstance(text, str) and memory.text == text
    assert not text_unstorable_reason(text=memory.text)


# ---- the HTTP pages and the JSON API ---------------------------------------------------------


@pytest.fixture
def ada_http(ada) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(ada)
    return client


# A form body is UTF-8 bytes: it can carry a NUL, never a lone surrogate.
form_values = st.one_of(
    anything_text,
    st.builds("{}\x00{}".format, anything_text, anything_text),
    st.text(min_size=5000, max_size=20_000),
)


def _html_ok(response) -> None:
    assert response.status_code < 500, response.content[:2000]
    assert b"Traceback" not in response.content


@pytest.mark.django_db
@FUZZ
@given(
    path=st.sampled_from(
        ["/", "/memories/", "/accounts/settings/", "/data/", "/memories/forget-all/"]
    ),
    params=st.dictionaries(
        st.sampled_from(["q", "kind", "sort", "page", "history", "next", "cancel"]),
        anything_text,
        max_size=5,
    ),
)
def test_pages_with_random_query_strings_never_fail(ada_http, path, params):
    for value in ("\x00", *params.values()):
        _html_ok(ada_http.get(path, {**params, "q": value}))


@pytest.mark.django_db
@FUZZ
@given(
    form=st.fixed_dictionaries(
        {},
        optional={
            "title": form_values, "text": form_values, "assistant_name": form_values,
            "tone": form_values, "traits": form_values, "instructions": form_values,
            "confirm": form_values, "temporary": form_values, "pinned": form_values,
        },
    ),
    htmx=st.booleans(),
)  # fmt: skip
def test_forms_with_random_fields_never_fail_and_refusals_write_nothing(ada_http, ada, form, htmx):
    conversation = Conversation.objects.create(user=ada, title="Mine")
    memory = memory_create(
        user=ada, text="Ada lives in Lisbon", said_at=timezone.now(), importance=0.5, kind="fact"
    )
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for path in (
        f"/c/{conversation.pk}/rename/",
        f"/c/{conversation.pk}/temporary/",
        f"/memories/{memory.pk}/edit/",
        f"/memories/{memory.pk}/pin/",
        "/accounts/settings/",
        "/memories/forget-all/",
    ):
        before = row_counts()
        response = ada_http.post(path, form, **headers)
        _html_ok(response)
        if response.status_code >= 400:
            assert row_counts() == before
    conversation.refresh_from_db()
    assert not text_unstorable_reason(text=conversation.title)


@pytest.mark.django_db
@FUZZ
@given(upload=st.one_of(st.binary(max_size=3000), anything_text.map(lambda t: t.encode())))
def test_the_import_form_with_random_files_never_fails(ada_http, upload):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = row_counts()
    response = ada_http.post("/data/", {"file": SimpleUploadedFile("export.json", upload)})
    _html_ok(response)
    assert response.status_code == 422
    assert row_counts() == before


api_bodies = st.one_of(
    st.binary(max_size=500),
    anything_text.map(str.encode),
    json_values.map(lambda v: json_dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["text", "content", "title", "kind", "importance", "pinned",
                         "temporary", "model", "extra"]),
        st.one_of(json_values, text_with_unstorable, HUGE_INTS),
        max_size=4,
    ).map(lambda v: json_dumps(v).encode()),
)  # fmt: skip


def _would_start_a_turn(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict) or set(data) - {"content", "model"}:
        return False
    content, model = data.get("content"), data.get("model", "")
    return (
        isinstance(content, str)
        and bool(content.strip())
        and len(content.strip()) <= django_settings.PIPO_MAX_MESSAGE_CHARS
        and not text_unstorable_reason(text=content)
        and (model is None or (isinstance(model, str) and len(model) <= 100))
        and not (isinstance(model, str) and text_unstorable_reason(text=model))
    )


@pytest.mark.django_db
@FUZZ
@given(body=api_bodies, method=st.sampled_from(["post", "patch", "put", "delete"]))
def test_api_endpoints_with_random_bodies_answer_json_never_500(ada_http, ada, body, method):
    conversation = Conversation.objects.create(user=ada, title="Mine")
    memory = memory_create(
        user=ada, text="Ada lives in Lisbon", said_at=timezone.now(), importance=0.5, kind="fact"
    )
    paths = [
        "/api/memories",
        f"/api/memories/{memory.pk}",
        "/api/conversations",
        f"/api/conversations/{conversation.pk}",
        "/api/memories/99999999999999999999",
    ]
    if not _would_start_a_turn(body):
        paths.append(f"/api/conversations/{conversation.pk}/messages")
    for path in paths:
        before = row_counts()
        response = getattr(ada_http, method)(path, body, content_type="application/json")
        assert response.status_code < 500, (path, response.content[:500])
        if response.status_code >= 400:
            error = response.json()
            assert set(error) == {"error", "detail"} and error["detail"]
            assert row_counts() == before
        texts = Memory.objects.filter(user=ada).values_list("text", flat=True)
        assert not any(text_unstorable_reason(text=text) for text in texts)


def test_the_alphabets_include_what_breaks_things():
    # Guard the strategies themselves: the fuzz is only as good as what it can draw.
    assert "\x00" in CONTROL and "\u202e" in CONTROL
    assert text_unstorable_reason(text="a\x00b") and text_unstorable_reason(text="\ud800")
    assert not text_unstorable_reason(text=string.printable + "é😀\u202e")


# ---- what the fuzzing found, pinned as plain examples ------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("frame", "answer"),
    [
        ({"action": "retry", "message_id": "²"}, "Retry needs the id of a reply."),
        ({"action": "retry", "message_id": 10**30}, "Retry needs the id of a reply."),
        ({"message": "a\ud800b"}, "invalid Unicode"),
        ({"message": "a\x00b"}, "NUL character"),
        ({"message": ["hi"]}, "A message must be text."),
    ],
    ids=["superscript-id", "huge-id", "lone-surrogate", "nul", "a-list"],
)
async def test_found_by_fuzzing_refused_frames(frame, answer):
    conversation = await _conversation()
    before = await _counts()
    communicator = await chat_socket_open(conversation)
    answers = await _answers_to(communicator, json_dumps(frame))
    await communicator.disconnect()
    assert len(answers) == 1 and answer in html.unescape(answers[0])
    assert await _counts() == before


@pytest.mark.django_db(transaction=True)
async def test_found_by_fuzzing_an_unstorable_model_name_falls_back_to_the_default(ollama):
    conversation = await _conversation()
    communicator = await chat_socket_open(conversation)
    await communicator.send_to(text_data=json_dumps({"message": "hi", "model": "mis\x00tral"}))
    while not _finished(await communicator.receive_from(timeout=30)):
        pass
    await communicator.disconnect()
    reply = await database_sync_to_async(lambda: Message.objects.order_by("-pk").first())()
    assert (reply.model, reply.status) == (django_settings.OLLAMA_MODEL, "complete")


@pytest.mark.django_db
def test_found_by_fuzzing_services_and_forms(ada, ada_http):
    conversation = Conversation.objects.create(user=ada, title="Mine")
    memory = memory_create(
        user=ada, text="Ada lives in Lisbon", said_at=timezone.now(), importance=0.5, kind="fact"
    )
    rename = ada_http.post(f"/c/{conversation.pk}/rename/", {"title": "a\x00b"})
    assert "can&#x27;t store" in rename.content.decode()
    edit = ada_http.post(f"/memories/{memory.pk}/edit/", {"text": "a\x00b"})
    assert edit.status_code == 422 and "NUL character" in edit.content.decode()
    assert ada_http.get("/memories/", {"q": "Lisbon\x00"}).status_code == 200
    api = ada_http.post(
        "/api/memories", json_dumps({"text": "a\ud800"}), content_type="application/json"
    )
    assert api.status_code == 400 and "invalid Unicode" in api.json()["detail"]
    assert memory_recall(user=ada, query=123, k=3) == []
    assert memory_recall(user=ada, query="Lisbon \ud800", k=3)[0].id == memory.pk
    assert memory_consolidate(user=ada, text="a\x00b", said_at=timezone.now()) is None
    with pytest.raises(ValidationError) as refused:
        persona_update(user=ada, assistant_name="N\x00", tone="", traits=[], instructions="")
    assert "NUL character" in refused.value.message_dict["assistant_name"][0]
    conversation.refresh_from_db()
    memory.refresh_from_db()
    assert (conversation.title, memory.text) == ("Mine", "Ada lives in Lisbon")
    assert Memory.objects.filter(user=ada).count() == 1


@pytest.mark.django_db
def test_found_by_fuzzing_a_time_off_the_calendar_in_utc_is_a_problem_not_a_crash(ada):
    export = _export()
    export["memories"][0]["said_at"] = "9999-12-31T23:59:59-23:59"
    report = account_import(user=ada, data=json.dumps(export).encode())
    assert [p.path for p in report.problems] == ["memories[0].said_at"]
    assert Memory.objects.count() == 0
