"""The JSON API's routes (docs/api.md), beside accounts' `/api/me`; anything else is a JSON 404."""

from django.urls import path, re_path, register_converter

from chat import api as chat_api
from memory import api as memory_api
from pipo.api import unknown_endpoint

app_name = "api"


class IdConverter:
    """A row id: digits that fit a 64-bit column; longer ones fall through to the 404."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "row_id")

urlpatterns = [
    path("memories", memory_api.memories, name="memories"),
    path("memories/<row_id:memory_id>", memory_api.memory_detail, name="memory"),
    path("conversations", chat_api.conversations, name="conversations"),
    path(
        "conversations/<row_id:conversation_id>", chat_api.conversation_detail, name="conversation"
    ),
    path(
        "conversations/<row_id:conversation_id>/messages",
        chat_api.conversation_messages,
        name="conversation_messages",
    ),
    re_path(r"^(?P<path>.*)$", unknown_endpoint),
]
