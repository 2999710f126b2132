"""The chat websocket in-process, as channels' test communicator opens it for a person."""

from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chat.models import Conversation
from pipo.routing import websocket_urlpatterns


async def chat_socket_open(conversation: Conversation, user=None) -> WebsocketCommunicator:
    """A connected socket on the conversation, as its owner unless `user` is given."""
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/chat/{conversation.pk}/"
    )
    communicator.scope["user"] = user or await database_sync_to_async(lambda: conversation.user)()
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def chat_frame_finishes(frame: str) -> bool:
    """The finished bubble: the out-of-band replacement that is no longer streaming."""
    return (
        "<article" in frame
        and 'hx-swap-oob="true"' in frame
        and 'data-status="streaming"' not in frame
    )


async def chat_socket_until_finished(
    communicator: WebsocketCommunicator, timeout: float = 30
) -> list[str]:
    """Frames up to and including the finished bubble."""
    frames = []
    while not frames or not chat_frame_finishes(frames[-1]):
        frames.append(await communicator.receive_from(timeout=timeout))
    return frames
