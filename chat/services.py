"""Writes of the chat app: conversations, and the two ends of each streamed turn.

A turn starts (`chat_turn_start` or `chat_turn_retry`: the person's message saved, the
reply's row created as streaming, the prompt assembled) and ends (`chat_turn_finish`:
the reply saved once, with its figures). The tokens in between never touch the database.
"""

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection, transaction

from accounts.models import User
from accounts.selectors import profile_get
from chat.models import Conversation, Message
from chat.prompts import MemoryLine, Persona, prompt_build
from chat.selectors import conversation_get
from chat.short_term import Turn, short_term_push, short_term_recent
from chat.tasks import message_consolidate_enqueue
from memory.selectors import portrait_get
from memory.services import RecalledMemory, memory_recall
from pipo.text import text_unstorable_reason

TITLE_CHARS = 60

logger = logging.getLogger(__name__)


class MessageRejected(Exception):
    """The message can't be sent; `message` says why (empty for a blank message)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TurnStart:
    conversation_id: int
    user_message: Message | None  # None on a retry: the person's message already exists
    assistant_message: Message
    prompt: list[dict]


def conversation_create(*, user: User, title: str = "", temporary: bool = False) -> Conversation:
    return Conversation.objects.create(user=user, title=title.strip()[:120], temporary=temporary)


def conversation_temporary_set(*, conversation: Conversation, temporary: bool) -> Conversation:
    """Switch a conversation to or from temporary; raises MessageRejected when it can't.

    A temporary chat's messages must never become memories, so once it has messages it
    stays temporary: making it normal then would let the sweep consolidate them.
    """
    if conversation.temporary and not temporary and conversation.messages.exists():
        raise MessageRejected(
            "This chat already has temporary messages, so it stays temporary. "
            "Start a new conversation to be remembered again."
        )
    conversation.temporary = temporary
    conversation.save(update_fields=["temporary", "updated_at"])
    return conversation


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())
    if not title:
        raise MessageRejected("A title can't be empty.")
    unstorable = text_unstorable_reason(text=title)
    if unstorable:
        raise MessageRejected(f"The title {unstorable}, which PIPO can't store. Remove it.")
    if len(title) > 120:
        raise MessageRejected(f"A title can have at most 120 characters (it has {len(title)}).")
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def _title_from(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1].rstrip() + "…"


def message_text_check(*, text: object) -> str:
    if not isinstance(text, str):
        raise MessageRejected("A message must be text.")
    if not text.strip():
        raise MessageRejected("")
    limit = settings.PIPO_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise MessageRejected(
            f"Your message is {len(text):,} characters long; the limit is {limit:,}. "
            "Please shorten it or split it in parts."
        )
    unstorable = text_unstorable_reason(text=text)
    if unstorable:
        raise MessageRejected(f"Your message {unstorable}, which PIPO can't store. Remove it.")
    return text.strip()


def _persona(user: User, *, temporary: bool = False) -> Persona:
    profile = profile_get(user=user)
    # The portrait is drawn from memories, which a temporary chat must not use.
    portrait = None if temporary else portrait_get(user=user)
    portrait_text = portrait.text if portrait else ""
    if profile is None:
        return Persona(portrait=portrait_text)
    return Persona(
        assistant_name=profile.assistant_name,
        traits=tuple(profile.traits or ()),
        tone=profile.tone,
        instructions=profile.instructions,
        portrait=portrait_text,
    )


def _recall(*, user: User, text: str) -> list[RecalledMemory]:
    return memory_recall(user=user, query=text, k=settings.PIPO_RECALL_K)


def _recalled_for_display(memories: list[RecalledMemory]) -> list[dict]:
    return [
        {"id": m.id, "text": m.text, "kind": m.kind, "score": m.score, "parts": m.parts}
        for m in memories
    ]


def _prompt(
    *,
    user: User,
    recent: list[Turn],
    text: str,
    memories: list[RecalledMemory],
    temporary: bool = False,
):
    return prompt_build(
        persona=_persona(user, temporary=temporary),
        memories=[MemoryLine(text=m.text, said_at=m.said_at) for m in memories],
        recent_turns=[(t.role, t.content) for t in recent],
        message=text,
        budget_tokens=settings.PIPO_PROMPT_TOKEN_BUDGET,
    )


def chat_turn_start(*, user: User, conversation_id: int, text: object, model: str) -> TurnStart:
    """Save the person's message and open the reply; raises MessageRejected, PermissionDenied."""
    text = message_text_check(text=text)
    conversation = conversation_get(user=user, conversation_id=conversation_id)
    if conversation is None:
        raise PermissionDenied
    recent = short_term_recent(conversation_id=conversation.pk)  # before this message lands
    # A temporary chat neither recalls nor forms memories.
    memories = [] if conversation.temporary else _recall(user=user, text=text)
    with transaction.atomic():
        user_message = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, content=text
        )
        assistant_message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            status=Message.Status.STREAMING,
            model=model,
            recalled=_recalled_for_display(memories),
        )
        if not conversation.title:
            conversation.title = _title_from(text)
        conversation.save(update_fields=["title", "updated_at"])
        if not conversation.temporary:
            transaction.on_commit(lambda: message_consolidate_enqueue(user_message.pk))
    short_term_push(conversation_id=conversation.pk, role=Message.Role.USER, content=text)
    return TurnStart(
        conversation_id=conversation.pk,
        user_message=user_message,
        assistant_message=assistant_message,
        prompt=_prompt(
            user=user,
            recent=recent,
            text=text,
            memories=memories,
            temporary=conversation.temporary,
        ),
    )


def chat_turn_retry(*, user: User, message_id: int, model: str) -> TurnStart:
    """Generate a failed or stopped reply again, from the same question."""
    message = (
        Message.objects.select_related("conversation")
        .filter(
            pk=message_id,
            conversation__user=user,
            role=Message.Role.ASSISTANT,
            status__in=[Message.Status.FAILED, Message.Status.STOPPED],
        )
        .first()
    )
    if message is None:
        raise MessageRejected("That reply can't be retried (it is finished or not yours).")
    earlier = Message.objects.filter(conversation=message.conversation, pk__lt=message.pk)
    question = earlier.filter(role=Message.Role.USER).order_by("-pk").first()
    if question is None:
        raise MessageRejected("There is no question to answer again.")
    history = (
        earlier.filter(pk__lt=question.pk)
        .exclude(status__in=[Message.Status.FAILED, Message.Status.STREAMING])
        .exclude(content="")
        .order_by("-pk")[: settings.PIPO_SHORT_TERM_TURNS]
    )
    recent = [Turn(role=m.role, content=m.content) for m in reversed(history)]
    memories = [] if message.conversation.temporary else _recall(user=user, text=question.content)
    message.content = ""
    message.error = ""
    message.status = Message.Status.STREAMING
    message.model = model
    message.recalled = _recalled_for_display(memories)
    message.save(update_fields=["content", "error", "status", "model", "recalled"])
    return TurnStart(
        conversation_id=message.conversation_id,
        user_message=None,
        assistant_message=message,
        prompt=_prompt(
            user=user,
            recent=recent,
            text=question.content,
            memories=memories,
            temporary=message.conversation.temporary,
        ),
    )


def _retried_on_a_fresh_connection(write):
    """Run `write`; if the database connection was dropped under it, once more on a new one.

    A reply streams for seconds to minutes between `chat_turn_start` and its final save;
    a PostgreSQL restart or an idle-connection reaper in between would otherwise leave the
    reply `streaming` for ever. Only outside a transaction, where a retry can't half-apply.
    """
    try:
        return write()
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        logger.warning("database connection lost while saving a reply; retrying once")
        connection.close()
        return write()


def chat_turn_finish(
    *,
    message_id: int,
    content: str,
    status: str,
    error: str = "",
    prompt_tokens: int | None = None,
    reply_tokens: int | None = None,
    first_token_ms: int | None = None,
    duration_ms: int | None = None,
) -> Message:
    """Save the reply once, at the end (complete), at Stop (stopped) or on failure (failed)."""

    def write() -> Message:
        message = Message.objects.select_related("conversation").get(pk=message_id)
        message.content = content
        message.status = status
        message.error = error
        message.prompt_tokens = prompt_tokens
        message.reply_tokens = reply_tokens
        message.first_token_ms = first_token_ms
        message.duration_ms = duration_ms
        message.save()
        message.conversation.save(update_fields=["updated_at"])
        return message

    message = _retried_on_a_fresh_connection(write)
    if content and status in (Message.Status.COMPLETE, Message.Status.STOPPED):
        short_term_push(
            conversation_id=message.conversation_id, role=Message.Role.ASSISTANT, content=content
        )
    return message


RATE_WINDOW_SECONDS = 60


class MessageRateLimited(MessageRejected):
    """The person sent more messages this minute than PIPO_MESSAGE_RATE_LIMIT allows."""

    def __init__(self, *, limit: int, retry_after: int) -> None:
        super().__init__(
            f"You are sending messages faster than PIPO allows ({limit} a minute). "
            f"Please wait {retry_after} s and send it again."
        )
        self.retry_after = retry_after


def message_rate_check(*, user: User) -> None:
    """Count one message against the person's allowance for this minute.

    A fixed one-minute window in the Django cache (Redis when configured, so every web
    process shares the count); PIPO_MESSAGE_RATE_LIMIT = 0 turns the limit off.
    """
    limit = settings.PIPO_MESSAGE_RATE_LIMIT
    if limit <= 0:
        return
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"chat:message-rate:{user.pk}:{window}"
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS + 5)
        count = 1
    if count > limit:
        retry_after = max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
        raise MessageRateLimited(limit=limit, retry_after=retry_after)
