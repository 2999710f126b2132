"""Self-test of the Ollama fake, driven by the real ``ollama`` client (sync and async).

No Django, no database: run with ``-p no:django``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import ollama
import pytest

from .ollama import OllamaServer, embedding_of, tokens_of, unused_loopback_url

REPLY = "The quick brown fox jumps over the lazy dog, twice.\nThen it rests."
HELLO = [{"role": "user", "content": "Hello there, PIPO"}]


@pytest.fixture
def server() -> Iterator[OllamaServer]:
    with OllamaServer(models=("mistral:latest", "nomic-embed-text:latest"), reply=REPLY) as running:
        yield running


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------- lifecycle


def test_start_is_idempotent_stop_closes_the_port_and_plain_endpoints_answer() -> None:
    fake = OllamaServer()
    with pytest.raises(RuntimeError):
        _ = fake.url
    assert fake.start() is fake
    url = fake.url
    assert fake.start().url == url and url.startswith("http://127.0.0.1:")
    with httpx.Client() as http:
        root = http.get(url + "/")
        assert (root.status_code, root.text) == (200, "Ollama is running")
        assert root.headers["content-type"].startswith("text/plain")
        assert http.get(url + "/api/version").json() == {"version": "0.12.0"}
        missing = http.post(url + "/api/nope", json={})
        assert (missing.status_code, missing.text) == (404, "404 page not found")
        fake.stop()
        fake.stop()  # idempotent
        with pytest.raises(httpx.TransportError):
            http.get(url + "/")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1]))) != 0
    assert fake.request_log == [
        ("GET", "/", None),
        ("GET", "/api/version", None),
        ("POST", "/api/nope", {}),
    ]


def test_tokens_of_round_trips_the_text() -> None:
    assert tokens_of("Hi  there,\nyou ") == ["Hi  ", "there,\n", "you "]
    assert tokens_of("  lead") == ["  ", "lead"]
    assert "".join(tokens_of(REPLY)) == REPLY
    assert tokens_of("") == []


# -------------------------------------------------------------------- chat


def test_sync_stream_yields_each_token_then_a_final_chunk(server: OllamaServer) -> None:
    client = ollama.Client(host=server.url)
    parts = list(client.chat(model="mistral", messages=HELLO, stream=True))

    *tokens, last = parts
    assert [p.message.content for p in tokens] == tokens_of(REPLY)
    assert "".join(p.message.content or "" for p in parts) == REPLY
    assert all(p.done is False and p.message.role == "assistant" for p in tokens)
    assert all(p.model == "mistral" and p.created_at for p in parts)
    assert last.done is True and last.done_reason == "stop"
    assert last.message.content == ""
    assert last.eval_count == len(tokens_of(REPLY))
    assert last.prompt_eval_count == len(tokens_of(HELLO[0]["content"]))
    assert last.total_duration and last.eval_duration and last.prompt_eval_duration
    assert last.total_duration >= last.load_duration + last.eval_duration  # type: ignore[operator]

    sent = server.requests_for("/api/chat")
    assert len(sent) == 1
    assert sent[0]["model"] == "mistral" and sent[0]["stream"] is True
    assert sent[0]["messages"] == HELLO
    assert server.wait_idle() and server.stream_closed_early == 0


async def test_async_stream_flushes_each_token_as_it_is_produced(server: OllamaServer) -> None:
    server.reply = "one two three four five six"
    server.token_delay = 0.05
    client = ollama.AsyncClient(host=server.url)
    started = time.monotonic()
    arrivals: list[float] = []
    pieces: list[str] = []
    async for part in await client.chat(model="mistral:latest", messages=HELLO, stream=True):
        if not part.done:
            arrivals.append(time.monotonic() - started)
            pieces.append(part.message.content or "")
    assert pieces == tokens_of("one two three four five six")
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 5
    assert sum(gap >= 0.025 for gap in gaps) >= 4, gaps  # not buffered into one burst
    assert arrivals[-1] - arrivals[0] >= 0.2
    await client._client.aclose()


def test_non_stream_chat_echoes_by_default_and_calls_a_reply_callable() -> None:
    with OllamaServer() as fake:
        client = ollama.Client(host=fake.url)
        answer = client.chat(model="mistral", messages=HELLO)
        assert answer.message.role == "assistant"
        assert answer.message.content == "You said: Hello there, PIPO"
        assert answer.done is True and answer.done_reason == "stop"
        assert answer.eval_count == len(tokens_of("You said: Hello there, PIPO"))
        assert fake.requests_for("/api/chat")[0]["stream"] is False

        seen: list[list[dict]] = []

        def reply(messages: list[dict]) -> str:
            seen.append(messages)
            return f"{len(messages)} messages, last from {messages[-1]['role']}"

        fake.reply = reply  # knobs change while running
        history = [{"role": "system", "content": "Be brief."}, *HELLO]
        assert client.chat(model="mistral", messages=history).message.content == (
            "2 messages, last from user"
        )
        assert seen == [history]
        # options.num_predict truncates, like the real server.
        fake.reply = "a b c d e"
        short = client.chat(model="mistral", messages=HELLO, options={"num_predict": 2})
        assert (short.message.content, short.done_reason, short.eval_count) == ("a b ", "length", 2)


def test_generate_streams_response_tokens(server: OllamaServer) -> None:
    client = ollama.Client(host=server.url)
    parts = list(client.generate(model="mistral", prompt="hi", stream=True))
    assert "".join(p.response or "" for p in parts) == REPLY
    assert parts[-1].done is True and parts[-1].eval_count == len(tokens_of(REPLY))


async def test_unknown_model_is_a_404_response_error(server: OllamaServer) -> None:
    client = ollama.Client(host=server.url)
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama3.2", messages=HELLO)
    assert caught.value.status_code == 404
    assert caught.value.error == 'model "llama3.2" not found, try pulling it first'

    async_client = ollama.AsyncClient(host=server.url)
    stream = await async_client.chat(model="llama3.2", messages=HELLO, stream=True)
    with pytest.raises(ollama.ResponseError) as streamed:
        async for _ in stream:
            pass
    assert streamed.value.status_code == 404 and "not found" in streamed.value.error
    await async_client._client.aclose()


def test_http_500_fault(server: OllamaServer) -> None:
    server.fault = "http_500"
    client = ollama.Client(host=server.url)
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="mistral", messages=HELLO)
    assert caught.value.status_code == 500 and caught.value.error == server.fault_message
    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.chat(model="mistral", messages=HELLO, stream=True))
    assert streamed.value.status_code == 500
    with pytest.raises(ollama.ResponseError):
        client.embed(model="mistral", input="x")
    assert [m.model for m in client.list().models]  # listing still answers
    server.fault = None
    assert client.chat(model="mistral", messages=HELLO).message.content == REPLY


# ------------------------------------------------------------ list / embed


def test_list_and_show_describe_the_configured_models(server: OllamaServer) -> None:
    client = ollama.Client(host=server.url)
    listing = client.list()
    assert [m.model for m in listing.models] == ["mistral:latest", "nomic-embed-text:latest"]
    first = listing.models[0]
    assert first.details is not None and first.details.format == "gguf"
    assert first.details.family == "mistral" and first.modified_at is not None
    assert first.digest and first.size
    shown = client.show("mistral")
    assert shown.details is not None and shown.details.family == "mistral"
    assert shown.modelinfo and shown.modelinfo["general.architecture"] == "mistral"
    assert client.ps().models == []
    client.chat(model="mistral", messages=HELLO)
    assert [m.model for m in client.ps().models] == ["mistral:latest"]


def test_embed_is_deterministic_normalised_and_word_sensitive(server: OllamaServer) -> None:
    client = ollama.Client(host=server.url)
    texts = ["I love green tea", "green tea is what I love", "the tax form is due Monday"]
    response = client.embed(model="nomic-embed-text", input=texts)
    vectors = [list(v) for v in response.embeddings]
    assert response.model == "nomic-embed-text"
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0) for v in vectors)
    assert list(client.embed(model="nomic-embed-text", input=texts[0]).embeddings[0]) == vectors[0]
    assert vectors[0] == embedding_of(texts[0])
    assert vectors[0] != vectors[1]
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    assert response.prompt_eval_count == sum(len(tokens_of(t)) for t in texts)
    assert server.requests_for("/api/embed")[0]["input"] == texts

    with OllamaServer(embedding_dim=64) as small:
        vector = ollama.Client(host=small.url).embed(model="mistral", input="hi").embeddings[0]
        assert len(vector) == 64
        assert math.isclose(sum(x * x for x in vector), 1.0)


# ------------------------------------------------------- failures on the wire


async def test_unreachable_server_raises_connection_error() -> None:
    fake = OllamaServer().start()
    url = fake.url
    fake.stop()
    for dead in (url, unused_loopback_url()):
        client = ollama.Client(host=dead)
        with pytest.raises(ConnectionError):
            client.list()
        with pytest.raises(ConnectionError):
            client.chat(model="mistral", messages=HELLO)
        with pytest.raises(ConnectionError):
            await ollama.AsyncClient(host=dead).chat(model="mistral", messages=HELLO)
        # A *streamed* request escapes the client's wrapper: httpx's ConnectError surfaces.
        with pytest.raises(httpx.ConnectError):
            list(client.chat(model="mistral", messages=HELLO, stream=True))


def test_drop_mid_stream_truncates_after_n_tokens(server: OllamaServer) -> None:
    server.fault = "drop_mid_stream"
    server.drop_after_tokens = 3
    client = ollama.Client(host=server.url)
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        for part in client.chat(model="mistral", messages=HELLO, stream=True):
            received.append(part.message.content or "")
    assert received == tokens_of(REPLY)[:3]
    with pytest.raises(httpx.RemoteProtocolError):  # non-stream: no response at all
        client.chat(model="mistral", messages=HELLO)
    server.fault = None
    assert client.chat(model="mistral", messages=HELLO).message.content == REPLY
    assert server.stream_closed_early == 0  # the server hung up, not the client


async def test_error_mid_stream_raises_response_error_after_some_tokens(
    server: OllamaServer,
) -> None:
    server.fault = "error_mid_stream"
    server.drop_after_tokens = 2
    client = ollama.AsyncClient(host=server.url)
    received: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        async for part in await client.chat(model="mistral", messages=HELLO, stream=True):
            received.append(part.message.content or "")
    assert received == tokens_of(REPLY)[:2]
    assert caught.value.error == server.fault_message
    assert caught.value.status_code == -1  # the HTTP status was already 200
    server.fault = None
    answer = await client.chat(model="mistral", messages=HELLO)  # connection still usable
    assert answer.message.content == REPLY
    await client._client.aclose()


async def test_client_closing_a_stream_early_is_observed(server: OllamaServer) -> None:
    server.reply = " ".join(f"w{i}" for i in range(40))
    server.token_delay = 0.05
    client = ollama.AsyncClient(host=server.url)
    stream = await client.chat(model="mistral", messages=HELLO, stream=True)
    got = []
    async for part in stream:
        got.append(part.message.content)
        if len(got) == 2:
            break
    assert server.active_streams == 1
    await stream.aclose()  # type: ignore[attr-defined]
    started = time.monotonic()
    while server.stream_closed_early == 0 and time.monotonic() - started < 2:
        await asyncio.sleep(0.01)
    assert server.stream_closed_early == 1
    assert time.monotonic() - started < 1.0  # noticed at once, not after 40 tokens
    while server.active_streams and time.monotonic() - started < 2:
        await asyncio.sleep(0.01)
    assert server.active_streams == 0
    await client._client.aclose()


def test_first_token_delay_is_observable(server: OllamaServer) -> None:
    server.first_token_delay = 0.5
    client = ollama.Client(host=server.url)
    started = time.monotonic()
    arrivals = [
        time.monotonic() - started
        for _ in client.chat(model="mistral", messages=HELLO, stream=True)
    ]
    assert arrivals[0] >= 0.5
    assert arrivals[-1] - arrivals[0] < 0.25  # the rest comes without delay


def test_stop_cuts_an_in_flight_stream_promptly() -> None:
    fake = OllamaServer(reply="a b c d e f g h", token_delay=3.0).start()
    client = ollama.Client(host=fake.url, timeout=10)
    first_chunk = threading.Event()
    outcome: list[BaseException | None] = []

    def consume() -> None:
        try:
            for _ in client.chat(model="mistral", messages=HELLO, stream=True):
                first_chunk.set()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    assert first_chunk.wait(5)
    started = time.monotonic()
    fake.stop()
    consumer.join(5)
    assert time.monotonic() - started < 1.5  # not at the next token, 3 s away
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)
    assert fake.active_streams == 0 and fake.stream_closed_early == 0
