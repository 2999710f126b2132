"""django-q2 tasks of the chat app: thin, by id, handing messages to memory."""

import logging
from datetime import timedelta

from django.utils import timezone
from django_q.tasks import async_task

from chat.models import Message
from chat.summaries import summaries_write, summary_people_of
from memory.models import Consolidation
from memory.portraits import portrait_refresh
from memory.services import memory_consolidate
from pipo.llm import LLMError

logger = logging.getLogger(__name__)
SWEEP_WINDOW = timedelta(days=2)


def message_consolidate(message_id: int) -> str:
    message = (
        Message.objects.select_related("conversation__user")
        .filter(pk=message_id, role=Message.Role.USER)
        .first()
    )
    if message is None:
        return "gone"
    if message.conversation.temporary:  # a temporary chat never forms memories
        return "temporary"
    user = message.conversation.user
    previous = (
        Message.objects.filter(conversation_id=message.conversation_id, pk__lt=message.pk)
        .exclude(content="")
        .order_by("-pk")
        .first()
    )
    memory = memory_consolidate(
        user=user,
        text=message.content,
        said_at=message.created_at,
        source_message_id=message.pk,
        speaker=user.first_name or user.email.split("@")[0],
        context=f"{previous.role}: {message_gist(previous.content)}" if previous else "",
    )
    return "kept" if memory else "skipped"


def message_gist(text: str, head: int = 60, tail: int = 120) -> str:
    """A long message's start and end: a reply's question to the person is mostly last.

    Short, because it is embedded with the memory and read by the classifier, and both
    cost time with every token (consolidation has 50 ms; docs/benchmarks.md).
    """
    text = " ".join(text.split())
    return text if len(text) <= head + tail else f"{text[:head]} … {text[-tail:]}"


def message_consolidate_enqueue(message_id: int) -> None:
    """Queue consolidation; if the broker is down the sweep picks the message up later."""
    try:
        async_task("chat.tasks.message_consolidate", message_id, task_name="consolidate")
    except Exception as exc:
        logger.warning("consolidation of message %s left to the sweep: %s", message_id, exc)


def messages_consolidate_sweep() -> int:
    """Consolidate recent user messages the worker missed (it was down, the task failed)."""
    done = Consolidation.objects.values_list("source_message_id", flat=True)
    missed = (
        Message.objects.filter(
            role=Message.Role.USER,
            created_at__gte=timezone.now() - SWEEP_WINDOW,
            conversation__temporary=False,
        )
        .exclude(pk__in=done)
        .values_list("pk", flat=True)
    )
    count = 0
    for message_id in missed:
        message_consolidate(message_id)
        count += 1
    return count


def daily_summaries_task() -> str:
    """Yesterday's summary for everyone who talked, then their portraits.

    The portraits are refreshed even when Ollama is down (they fall back to rules); the
    error is raised afterwards so the failed run shows in the admin.
    """
    day = timezone.localdate() - timedelta(days=1)
    people = list(summary_people_of(day=day))
    failure: LLMError | None = None
    try:
        run = summaries_write(day=day, users=people)
    except LLMError as exc:
        failure = exc
    for person in people:
        portrait_refresh(user=person)
    if failure is not None:
        raise failure
    return f"{day}: {len(run.written)} summaries written, {len(run.failed)} failed"
