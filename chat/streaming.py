"""One reply streamed from Ollama and saved, for callers that hand tokens on as they come.

The JSON API's NDJSON stream and the websocket consumer both use it. Between
`chat_turn_start` and `chat_turn_finish` no token touches the database.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from channels.db import database_sync_to_async

from chat.models import Message
from chat.services import TurnStart, chat_turn_finish
from pipo.llm import LLMError, llm_chat_stream

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyToken:
    text: str


@dataclass(frozen=True)
class ReplyEnd:
    """The saved reply: complete, or failed with `message.error` saying why."""

    message: Message


def _logged(message: Message, status: str, duration_ms: int, tokens: int | None) -> None:
    logger.info("reply %s %s in %s ms (%s tokens)", message.pk, status, duration_ms, tokens)


async def reply_stream(*, turn: TurnStart) -> AsyncIterator[ReplyToken | ReplyEnd]:
    """Each token as Ollama sends it, then the saved reply.

    Closed or cancelled early (the client went away), the partial reply is saved as
    stopped, the way Stop saves it in the browser, and Ollama's stream is closed.
    """
    message = turn.assistant_message
    parts: list[str] = []
    status, error = Message.Status.FAILED, ""
    figures: dict = {}
    started = time.monotonic()
    stream = llm_chat_stream(model=message.model, messages=turn.prompt)
    try:
        async for chunk in stream:
            if chunk.text:
                if not parts:
                    figures["first_token_ms"] = int((time.monotonic() - started) * 1000)
                parts.append(chunk.text)
                yield ReplyToken(chunk.text)
            if chunk.done:
                figures["prompt_tokens"] = chunk.prompt_tokens
                figures["reply_tokens"] = chunk.reply_tokens
                status = Message.Status.COMPLETE
    except (asyncio.CancelledError, GeneratorExit):
        await stream.aclose()
        duration_ms = int((time.monotonic() - started) * 1000)
        _logged(message, Message.Status.STOPPED, duration_ms, len(parts) or None)
        await database_sync_to_async(chat_turn_finish)(
            message_id=message.pk,
            content="".join(parts),
            status=Message.Status.STOPPED,
            reply_tokens=len(parts) or None,
            first_token_ms=figures.get("first_token_ms"),
            duration_ms=duration_ms,
        )
        raise
    except LLMError as exc:
        error = str(exc)
    except Exception:
        logger.exception("reply %s failed", message.pk)
        error = "Something went wrong while PIPO was answering. Please retry."
    await stream.aclose()
    figures["duration_ms"] = int((time.monotonic() - started) * 1000)
    _logged(message, status, figures["duration_ms"], figures.get("reply_tokens"))
    saved = await database_sync_to_async(chat_turn_finish)(
        message_id=message.pk, content="".join(parts), status=status, error=error, **figures
    )
    yield ReplyEnd(saved)
