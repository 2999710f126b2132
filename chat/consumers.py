"""The chat websocket: one socket per open conversation page, streaming replies as HTML.

Frames out are htmx out-of-band swaps (the ws extension applies them): the person's
message and the reply's bubble, then one escaped `<span>` per token appended to the
bubble, then the finished bubble rendered from the database. Every open tab of the
conversation, on any Daphne process sharing the channel layer, shows the same reply as it
streams: tabs announce themselves to the conversation's group, and the socket answering
sends its opening and token frames to its own page directly and to each other tab's
channel (a lone tab, the common case, costs the channel layer nothing per token); the
finished bubble goes to the group. Errors about a frame go to its sender only.
Frames in are the composer's JSON: `{"message": ..., "model": ...}`, `{"action": "stop"}`
(from any tab) or `{"action": "retry", "message_id": ...}`.
"""

import asyncio
import contextlib
import json
import logging
import re

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.utils.html import escape

from chat.selectors import conversation_get, message_get
from chat.services import (
    MessageRejected,
    TurnStart,
    chat_turn_retry,
    chat_turn_start,
    message_rate_check,
    message_text_check,
)
from chat.streaming import ReplyToken, reply_stream
from pipo.logging import log_context, request_id_from
from pipo.text import text_unstorable_reason

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009
MODEL_NAME_CHARS = 100
MESSAGE_ID = re.compile(r"[0-9]{1,18}")


def _group(conversation_id: int) -> str:
    return f"chat.conversation.{conversation_id}"


def _error_frame(text: str) -> str:
    return render_to_string("chat/_composer_error.html", {"error": text})


def _token_frame(message_id: int, text: str) -> str:
    return f'<span hx-swap-oob="beforeend:#message-{message_id}-text">{escape(text)}</span>'


class ChatConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict) -> None:
        # Every event of this socket (and the reply task it starts) logs under one request
        # id, from the handshake's X-Request-ID when sane, and the conversation's id.
        if not hasattr(self, "log_ids"):
            headers = dict(self.scope.get("headers") or [])
            self.log_ids = {
                "request_id": request_id_from(headers.get(b"x-request-id", b"").decode("latin-1")),
                "conversation_id": self.scope["url_route"]["kwargs"].get("conversation_id"),
            }
        with log_context(**self.log_ids):
            await super().dispatch(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        conversation = await database_sync_to_async(conversation_get)(
            user=user, conversation_id=self.conversation_id
        )
        if conversation is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.generation: asyncio.Task | None = None
        self.open = True
        self.other_tabs: set[str] = set()  # channel names of this conversation's other sockets
        await self.channel_layer.group_add(_group(self.conversation_id), self.channel_name)
        # Announced before the handshake ends, so the other tabs usually know of this one
        # by the time its page can send anything.
        await self.channel_layer.group_send(
            _group(self.conversation_id), {"type": "chat.tab.opened", "channel": self.channel_name}
        )
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.open = False
        if hasattr(self, "conversation_id"):
            await self.channel_layer.group_discard(_group(self.conversation_id), self.channel_name)
            await self.channel_layer.group_send(
                _group(self.conversation_id),
                {"type": "chat.tab.closed", "channel": self.channel_name},
            )
        # A running reply is not cancelled: it finishes, is saved, and a reconnecting page
        # receives the finished bubble through the group.

    async def send_frame(self, html: str) -> None:
        if self.open:
            await self.send(text_data=html)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_frame(_error_frame("PIPO expects text frames."))
            return
        if len(text_data) > settings.PIPO_MAX_MESSAGE_CHARS * 2 + 4096:
            await self.send_frame(_error_frame("That frame is too large."))
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            payload = json.loads(text_data)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            await self.send_frame(_error_frame("PIPO could not read that frame (not JSON)."))
            return
        action = payload.get("action") or "send"
        if action == "stop":
            await self.stop()
        elif action in ("send", "retry"):
            await self.start(action, payload)
        else:
            await self.send_frame(_error_frame(f"Unknown action: {str(action)[:40]}"))

    def _model(self, payload: dict) -> str:
        model = payload.get("model")
        if (
            isinstance(model, str)
            and 0 < len(model) <= MODEL_NAME_CHARS
            and not text_unstorable_reason(text=model)
        ):
            return model
        return settings.OLLAMA_MODEL

    async def start(self, action: str, payload: dict) -> None:
        if self.generation is not None and not self.generation.done():
            await self.send_frame(_error_frame("Wait for the reply, or press Stop."))
            return
        model = self._model(payload)
        try:
            if action == "send":
                # A blank or refused message is answered without using up the allowance.
                message_text_check(text=payload.get("message"))
            # Over the per-minute limit this raises MessageRejected with the wait in words.
            await database_sync_to_async(message_rate_check)(user=self.user)
            if action == "send":
                turn = await database_sync_to_async(chat_turn_start)(
                    user=self.user,
                    conversation_id=self.conversation_id,
                    text=payload.get("message"),
                    model=model,
                )
            else:
                message_id = payload.get("message_id")
                # ASCII digits only, and few enough for a 64-bit column ("²".isdigit() is True).
                if not MESSAGE_ID.fullmatch(str(message_id)):
                    raise MessageRejected("Retry needs the id of a reply.")
                turn = await database_sync_to_async(chat_turn_retry)(
                    user=self.user, message_id=int(message_id), model=model
                )
        except MessageRejected as exc:
            if exc.message:
                await self.send_frame(_error_frame(exc.message))
            return
        except PermissionDenied:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.to_every_tab({"type": "chat.turn.opened", "html": self._opening_frame(turn)})
        self.generation = asyncio.create_task(self.generate(turn))

    def _opening_frame(self, turn: TurnStart) -> str:
        return render_to_string(
            "chat/_turn_opening.html",
            {"user_message": turn.user_message, "assistant_message": turn.assistant_message},
        )

    async def stop(self) -> None:
        if self.generation is not None and not self.generation.done():
            self.generation.cancel()
        else:  # Stop pressed in another tab than the one whose message is being answered
            await self.channel_layer.group_send(
                _group(self.conversation_id), {"type": "chat.generation.stop"}
            )

    async def chat_generation_stop(self, event: dict) -> None:
        if self.generation is not None and not self.generation.done():
            self.generation.cancel()

    async def generate(self, turn: TurnStart) -> None:
        message = turn.assistant_message
        try:
            # aclosing: a Stop that lands while a token is being sent still closes the
            # stream at once, which saves the partial reply as stopped.
            async with contextlib.aclosing(reply_stream(turn=turn)) as replies:
                async for item in replies:
                    if isinstance(item, ReplyToken):
                        await self.to_every_tab(
                            {"type": "chat.token", "message_id": message.pk, "text": item.text}
                        )
        except asyncio.CancelledError:
            pass  # Stop: reply_stream saved what was written as stopped
        await self.channel_layer.group_send(
            _group(self.conversation_id),
            {"type": "chat.message.finished", "message_id": message.pk},
        )

    async def to_every_tab(self, event: dict) -> None:
        """This page directly, and each other open tab of the conversation by its channel."""
        # The handler itself, not dispatch(): that closes old database connections in a
        # thread on every call, once per token.
        await getattr(self, get_handler_name(event))(event)
        for channel in list(self.other_tabs):
            try:
                await self.channel_layer.send(channel, event)
            except ChannelFull:  # a tab gone without a word (its process died): forget it
                self.other_tabs.discard(channel)

    async def chat_tab_opened(self, event: dict) -> None:
        if event["channel"] != self.channel_name:
            self.other_tabs.add(event["channel"])
            await self.channel_layer.send(
                event["channel"], {"type": "chat.tab.present", "channel": self.channel_name}
            )

    async def chat_tab_present(self, event: dict) -> None:
        self.other_tabs.add(event["channel"])

    async def chat_tab_closed(self, event: dict) -> None:
        self.other_tabs.discard(event["channel"])

    async def chat_turn_opened(self, event: dict) -> None:
        await self.send_frame(event["html"])

    async def chat_token(self, event: dict) -> None:
        await self.send_frame(_token_frame(event["message_id"], event["text"]))

    async def chat_message_finished(self, event: dict) -> None:
        message = await database_sync_to_async(message_get)(message_id=event["message_id"])
        if message is not None:
            html = render_to_string("chat/_message.html", {"message": message, "oob": True})
            await self.send_frame(html)
