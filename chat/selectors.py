"""Reads of the chat app."""

from django.db.models import QuerySet

from accounts.models import User
from chat.models import Conversation, Message


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=user)


def conversation_get(*, user: User, conversation_id: int) -> Conversation | None:
    """The person's own conversation, or None: never someone else's."""
    return Conversation.objects.filter(user=user, pk=conversation_id).first()


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.all()


def message_recent(*, conversation_id: int, limit: int) -> list[Message]:
    """The last `limit` finished turns, oldest first (what the short-term buffer holds)."""
    recent = (
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(status__in=[Message.Status.STREAMING, Message.Status.FAILED])
        .exclude(content="")
        .order_by("-created_at", "-id")[:limit]
    )
    return list(reversed(recent))


def message_get(*, message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id).first()
