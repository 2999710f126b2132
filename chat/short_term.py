"""The short-term buffer: the last N turns of a conversation, for the prompt.

With REDIS_URL a Redis list per conversation (trimmed to N, with a TTL), rebuilt from
the database when Redis has lost it; without Redis the database itself is the buffer.
The database is always the durable log; this is only the fast path.
"""

import json
from dataclasses import dataclass

import redis
from django.conf import settings

from chat.selectors import message_recent


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


def _key(conversation_id: int) -> str:
    return f"pipo:short-term:{conversation_id}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _from_database(conversation_id: int) -> list[Turn]:
    return [
        Turn(role=m.role, content=m.content)
        for m in message_recent(
            conversation_id=conversation_id, limit=settings.PIPO_SHORT_TERM_TURNS
        )
    ]


def short_term_push(*, conversation_id: int, role: str, content: str) -> None:
    if not settings.REDIS_URL:
        return  # the Message row already written is the buffer
    key = _key(conversation_id)
    client = _redis()
    try:
        if not client.exists(key):
            # Lost (TTL, restart): rebuild from the rows, which already hold this turn.
            short_term_rebuild(conversation_id=conversation_id, client=client)
            return
        pipe = client.pipeline()
        pipe.rpush(key, json.dumps({"role": role, "content": content}))
        pipe.ltrim(key, -settings.PIPO_SHORT_TERM_TURNS, -1)
        pipe.expire(key, settings.PIPO_SHORT_TERM_TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        pass  # the next read rebuilds from the database
    finally:
        client.close()


def short_term_rebuild(*, conversation_id: int, client: redis.Redis | None = None) -> list[Turn]:
    turns = _from_database(conversation_id)
    own = client is None
    client = client or _redis()
    try:
        key = _key(conversation_id)
        pipe = client.pipeline()
        pipe.delete(key)
        if turns:
            pipe.rpush(key, *[json.dumps({"role": t.role, "content": t.content}) for t in turns])
            pipe.expire(key, settings.PIPO_SHORT_TERM_TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        pass
    finally:
        if own:
            client.close()
    return turns


def short_term_recent(*, conversation_id: int) -> list[Turn]:
    """The recent turns, oldest first."""
    if not settings.REDIS_URL:
        return _from_database(conversation_id)
    client = _redis()
    try:
        raw = client.lrange(_key(conversation_id), 0, -1)
        if not raw:
            return short_term_rebuild(conversation_id=conversation_id, client=client)
        return [Turn(**json.loads(item)) for item in raw]
    except redis.RedisError:
        return _from_database(conversation_id)  # Redis down: the rows still answer
    finally:
        client.close()
