"""PIPO scaled out: two Daphne processes and one django-q2 cluster on Redis.

One person with two tabs of the same conversation, each tab's socket on another Daphne:
a reply streams into both, whichever tab sent the message, and every message is
consolidated once by the single worker, however many processes took messages.
"""

import asyncio
import html
import json
import os

import pytest
from django.conf import settings as django_settings
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import service_missing
from tests.support.cluster import (
    FINISHED,
    OPENING,
    TOKEN,
    PipoCluster,
    database_scratch_create,
    database_scratch_drop,
    person_sign_up,
    socket_url,
)
from tests.support.ollama import OllamaServer, tokens_of

FRAME_TIMEOUT = 60
FACTS = [
    "My sister Ana lives in Porto and teaches chemistry",
    "I am allergic to peanuts, so please remember that",
    "My dog is called Rex and he is a beagle",
    "I work as a nurse at the city hospital on night shifts",
    "My birthday is on the third of March",
    "I moved to Lisbon in 2021 for my job",
]


def padded_echo(messages: list[dict]) -> str:
    """The stand-in's echo, made long enough that a stream is many frames."""
    users = [m for m in messages if m.get("role") == "user"]
    said = users[-1]["content"] if users else ""
    return f"You said: {said}. " + " ".join(f"word{i}" for i in range(40))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, chroma_server):
    redis_url = django_settings.REDIS_URL
    if not redis_url:
        service_missing("REDIS_URL is not set: scale-out needs a Redis server")
    ollama = OllamaServer(reply=padded_echo, token_delay=0.01).start()
    main_database = os.environ.get("DATABASE_URL", "")
    scratch = database_scratch_create(main_database) if main_database else ""
    cluster = PipoCluster(
        folder=tmp_path_factory.mktemp("scale-out"),
        redis_url=redis_url,
        chroma_url=chroma_server,
        ollama_url=ollama.url,
        database_url=scratch,
        # The stand-in's padded echo is no JSON verdict; superseding has tests of its own.
        extra_env={"PIPO_SUPERSEDE": "false"},
    )
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        ollama.stop()
        if scratch:
            database_scratch_drop(main_database, scratch)


@pytest.fixture(scope="module")
def person(cluster) -> tuple[str, int]:
    return person_sign_up(cluster.urls[0], "two.tabs@example.test", "a-long-passphrase-42")


async def tab_open(base_url: str, session: str, conversation_id: int) -> ClientConnection:
    return await connect(
        socket_url(base_url, conversation_id),
        origin=base_url,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=FRAME_TIMEOUT,
    )


async def tabs_open(cluster: PipoCluster, person: tuple[str, int]) -> list[ClientConnection]:
    """Tab A on the first Daphne, tab B on the second, once they know of each other."""
    tabs = [await tab_open(url, *person) for url in cluster.urls[:2]]
    await asyncio.sleep(1)  # a new tab's hello crosses Redis to the other process
    return tabs


async def frames_until_finished(tab: ClientConnection) -> list[str]:
    frames = []
    while True:
        frames.append(await asyncio.wait_for(tab.recv(), FRAME_TIMEOUT))
        if FINISHED.search(frames[-1]) and 'data-status="streaming"' not in frames[-1]:
            return frames


def tokens_seen(frames: list[str]) -> list[tuple[str, str]]:
    return [(m.group(1), html.unescape(m.group(2))) for f in frames for m in TOKEN.finditer(f)]


async def turn(sender: ClientConnection, other: ClientConnection, text: str) -> tuple[list, list]:
    await sender.send(json.dumps({"message": text}))
    return await asyncio.gather(frames_until_finished(sender), frames_until_finished(other))


async def test_two_tabs_on_two_processes_see_the_same_reply_stream(cluster, person):
    tab_a, tab_b = await tabs_open(cluster, person)
    try:
        for sender, other, text in [(tab_a, tab_b, "Hello from A"), (tab_b, tab_a, "Now B")]:
            sent, watched = await turn(sender, other, text)
            expected = tokens_of(padded_echo([{"role": "user", "content": text}]))
            for frames in (sent, watched):
                assert OPENING in frames[0] and html.escape(text) in frames[0]
                seen = tokens_seen(frames)
                assert [token for _, token in seen] == expected  # all, in order
                assert len({message_id for message_id, _ in seen}) == 1
                assert FINISHED.search(frames[-1]).group(2) == "complete"
            assert tokens_seen(sent) == tokens_seen(watched)
    finally:
        await tab_a.close()
        await tab_b.close()


CONSOLIDATED = """
import json, time
from chat.models import Message
from memory.models import Consolidation, Memory
mine = Message.objects.filter(conversation__user__email="two.tabs@example.test")
said = sorted(mine.filter(role="user").values_list("pk", flat=True))
deadline = time.monotonic() + 90
rows = Consolidation.objects.filter(source_message_id__in=said)
while rows.count() < len(said) and time.monotonic() < deadline:
    time.sleep(0.25)
time.sleep(3)  # a second consolidation of a message would land by now
print(json.dumps({
    "said": said,
    "consolidated": list(rows.values_list("source_message_id", "outcome", "memory_id")),
    "memories": list(Memory.objects.filter(user__email="two.tabs@example.test")
                     .values_list("id", "source_message_id", "text")),
    "replies": list(mine.filter(role="assistant").values_list("status", flat=True)),
}))
"""


async def test_each_message_is_consolidated_once_across_processes(cluster, person):
    tab_a, tab_b = await tabs_open(cluster, person)
    try:
        for index, fact in enumerate(FACTS):
            sender, other = (tab_a, tab_b) if index % 2 == 0 else (tab_b, tab_a)
            sent, watched = await turn(sender, other, fact)
            for frames in (sent, watched):
                assert FINISHED.search(frames[-1]).group(2) == "complete"
    finally:
        await tab_a.close()
        await tab_b.close()

    found = json.loads((await asyncio.to_thread(cluster.query, CONSOLIDATED)).splitlines()[-1])
    said = found["said"]
    assert len(said) >= len(FACTS)  # the other test's two messages may be there too
    consolidated = [source for source, _, _ in found["consolidated"]]
    assert sorted(consolidated) == said  # every message once, none twice
    kept = {memory for _, outcome, memory in found["consolidated"] if outcome == "kept"}
    assert kept, "no fact was kept as a memory: the check of duplicates checks nothing"
    memories = found["memories"]
    assert {memory_id for memory_id, _, _ in memories} == kept
    sources = [source for _, source, _ in memories]
    assert len(sources) == len(set(sources))
    texts = [text for _, _, text in memories]
    assert len(texts) == len(set(texts))
    assert set(found["replies"]) == {"complete"}
