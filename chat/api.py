"""The conversation endpoints of the JSON API (docs/api.md), and the NDJSON reply stream.

A message sent here goes through the same services as one typed in the browser
(`message_rate_check`, `chat_turn_start`, then `chat.streaming.reply_stream` which ends in
`chat_turn_finish`), so it is saved, recalled against and consolidated the same way.
"""

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse

from chat.models import Conversation, Message
from chat.selectors import conversation_get, conversation_list, message_list
from chat.services import (
    MessageRateLimited,
    MessageRejected,
    TurnStart,
    chat_turn_start,
    conversation_create,
    message_rate_check,
    message_text_check,
)
from chat.streaming import ReplyEnd, ReplyToken, reply_stream
from pipo.api import (
    ApiError,
    api_not_found,
    api_page,
    api_view,
    field_bool,
    field_text,
    fields_allowed,
    json_body,
)

TITLE_MAX_CHARS = 120
MODEL_NAME_CHARS = 100
NDJSON = "application/x-ndjson"


def conversation_json(conversation: Conversation) -> dict:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "temporary": conversation.temporary,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }


def message_json(message: Message) -> dict:
    return {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "error": message.error,
        "model": message.model,
        "created_at": message.created_at,
        "prompt_tokens": message.prompt_tokens,
        "reply_tokens": message.reply_tokens,
        "first_token_ms": message.first_token_ms,
        "duration_ms": message.duration_ms,
        "recalled": message.recalled,
    }


@api_view(["GET", "POST"])
def conversations(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        found = conversation_list(user=request.user)
        return JsonResponse(api_page(request, found, conversation_json))
    data = json_body(request)
    fields_allowed(data, ["title", "temporary"])
    title = " ".join(field_text(data, "title").split())
    if len(title) > TITLE_MAX_CHARS:
        raise ApiError(
            400,
            "invalid_field",
            f"A title can have at most {TITLE_MAX_CHARS} characters (it has {len(title)}).",
        )
    conversation = conversation_create(
        user=request.user, title=title, temporary=field_bool(data, "temporary")
    )
    return JsonResponse(conversation_json(conversation), status=201)


@api_view(["GET"])
def conversation_detail(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise api_not_found("conversation")
    messages = [message_json(m) for m in message_list(conversation=conversation)]
    return JsonResponse({**conversation_json(conversation), "messages": messages})


def _model(data: dict) -> str:
    model = field_text(data, "model")
    if not model:
        return settings.OLLAMA_MODEL
    if len(model) > MODEL_NAME_CHARS:
        raise ApiError(
            400, "invalid_field", f"'model' can have at most {MODEL_NAME_CHARS} characters."
        )
    return model


def _message_text(data: dict) -> str:
    content = field_text(data, "content", required=True)
    try:
        return message_text_check(text=content)
    except MessageRejected as exc:
        if not exc.message:  # a blank message
            raise ApiError(400, "invalid_field", "'content' can't be empty.") from None
        if len(content) > settings.PIPO_MAX_MESSAGE_CHARS:
            raise ApiError(413, "too_large", exc.message) from None
        raise ApiError(400, "invalid_field", exc.message) from None


@api_view(["POST"])
async def conversation_messages(request: HttpRequest, conversation_id: int):
    # request.user, not auser(): a bearer token's user is set on request.user only, and a
    # session's user was already loaded by BearerTokenMiddleware.
    user = request.user
    data = json_body(request)
    fields_allowed(data, ["content", "model"])
    text = _message_text(data)
    model = _model(data)
    conversation = await sync_to_async(conversation_get)(user=user, conversation_id=conversation_id)
    if conversation is None:
        raise api_not_found("conversation")
    try:
        await sync_to_async(message_rate_check)(user=user)
    except MessageRateLimited as exc:
        raise ApiError(
            429, "rate_limited", exc.message, {"Retry-After": str(exc.retry_after)}
        ) from None
    try:
        turn = await sync_to_async(chat_turn_start)(
            user=user, conversation_id=conversation.pk, text=text, model=model
        )
    except PermissionDenied:  # deleted a moment ago
        raise api_not_found("conversation") from None
    response = StreamingHttpResponse(_ndjson_lines(turn), content_type=NDJSON)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must pass each line on at once
    return response


def _line(event: dict) -> bytes:
    return (json.dumps(event, cls=DjangoJSONEncoder) + "\n").encode()


async def _ndjson_lines(turn: TurnStart) -> AsyncIterator[bytes]:
    reply = turn.assistant_message
    yield _line(
        {
            "type": "start",
            "conversation_id": turn.conversation_id,
            "user_message_id": turn.user_message.pk,
            "message_id": reply.pk,
            "model": reply.model,
        }
    )
    async with aclosing(reply_stream(turn=turn)) as events:
        async for event in events:
            if isinstance(event, ReplyToken):
                yield _line({"type": "token", "text": event.text})
            elif isinstance(event, ReplyEnd):
                yield _line(_end_event(event.message))


def _end_event(message: Message) -> dict:
    if message.status == Message.Status.COMPLETE:
        return {
            "type": "done",
            "message_id": message.pk,
            "content": message.content,
            "prompt_tokens": message.prompt_tokens,
            "reply_tokens": message.reply_tokens,
            "first_token_ms": message.first_token_ms,
            "duration_ms": message.duration_ms,
        }
    return {
        "type": "error",
        "message_id": message.pk,
        "status": message.status,
        "message": message.error,
        "content": message.content,
    }
