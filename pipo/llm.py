"""The one Ollama client of PIPO: chat streams replies through it, memory asks it to merge.

Everything that talks to Ollama goes through here, so the host, the model and the way a
missing server is reported stay in one place.
"""

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import ollama
from django.conf import settings


class LLMError(Exception):
    """A reply could not be generated; the message is meant for the person."""


class LLMUnavailable(LLMError):
    """Ollama cannot be reached; the message says what to do about it."""


class LLMModelMissing(LLMError):
    """Ollama answers, but the model is not pulled."""


class LLMStreamBroken(LLMError):
    """The reply stream stopped before Ollama said it was done."""


def llm_unreachable_message(*, host: str | None = None) -> str:
    host = host or settings.OLLAMA_HOST
    return (
        f"PIPO can't reach the language model at {host}. Is Ollama running? "
        f"(ollama serve; ollama pull {settings.OLLAMA_MODEL})"
    )


def llm_model_missing_message(*, model: str) -> str:
    return f"The model {model} is not available in Ollama. Pull it with: ollama pull {model}"


# Per event loop (an httpx client belongs to the loop it was made on); a closed loop's
# clients go with it.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _client_key(timeout: float | None) -> tuple:
    # OLLAMA_HEADERS (a proxy's or tunnel's credentials) go on every request to Ollama.
    return (settings.OLLAMA_HOST, tuple(sorted(settings.OLLAMA_HEADERS.items())), timeout)


def llm_client(*, timeout: float | None = None) -> ollama.AsyncClient:
    """One client per event loop and host: building one loads the CA bundle into a new
    SSL context (~50 ms of CPU on the event loop), too much to pay for every reply."""
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    key = _client_key(timeout)
    if key not in clients:
        clients[key] = ollama.AsyncClient(
            host=settings.OLLAMA_HOST, timeout=timeout, headers=settings.OLLAMA_HEADERS
        )
    return clients[key]


@dataclass(frozen=True)
class LLMChunk:
    """One fragment of a streamed reply; the last one has `done` and Ollama's counts."""

    text: str
    done: bool = False
    prompt_tokens: int | None = None
    reply_tokens: int | None = None


async def llm_chat_stream(*, model: str, messages: list[dict]) -> AsyncIterator[LLMChunk]:
    """Stream a chat reply from Ollama, translating its failures into LLMError subclasses.

    Closing this generator early (`aclose()`) closes the HTTP stream, so Ollama stops too.
    """
    client = llm_client(timeout=settings.OLLAMA_TIMEOUT_SECONDS)
    stream = None
    try:
        stream = await client.chat(model=model, messages=messages, stream=True)
        async for part in stream:
            yield LLMChunk(
                text=part.message.content or "",
                done=bool(part.done),
                prompt_tokens=part.prompt_eval_count,
                reply_tokens=part.eval_count,
            )
            if part.done:
                return
    except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise LLMUnavailable(llm_unreachable_message()) from exc
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise LLMModelMissing(llm_model_missing_message(model=model)) from exc
        raise LLMStreamBroken(f"Ollama stopped with an error: {exc.error}") from exc
    except httpx.HTTPError as exc:
        raise LLMStreamBroken("The connection to Ollama broke off mid-reply.") from exc
    finally:
        if stream is not None:
            # Ends the HTTP response now (at done, Stop or failure), handing the connection
            # back to the shared client's pool instead of leaving it to the garbage collector.
            await stream.aclose()
    raise LLMStreamBroken("Ollama ended the reply without finishing it.")


@dataclass(frozen=True)
class LLMStatus:
    host: str
    model: str
    models: tuple[str, ...]

    @property
    def model_available(self) -> bool:
        wanted = self.model if ":" in self.model else f"{self.model}:latest"
        return wanted in self.models or self.model in self.models


def llm_status(*, timeout: float = 3.0) -> LLMStatus:
    """Ask Ollama which models it has; raises LLMUnavailable when it does not answer."""
    client = ollama.Client(
        host=settings.OLLAMA_HOST, timeout=timeout, headers=settings.OLLAMA_HEADERS
    )
    try:
        listing = client.list()
    except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
        raise LLMUnavailable(llm_unreachable_message()) from exc
    names = tuple(m.model for m in listing.models if m.model)
    return LLMStatus(host=settings.OLLAMA_HOST, model=settings.OLLAMA_MODEL, models=names)


_model_names_cache: dict[str, tuple[float, list[str]]] = {}
MODEL_NAMES_TTL_SECONDS = 60.0


def llm_model_names() -> list[str]:
    """Models Ollama has pulled, for the model picker; the configured one if it is down.

    Cached for a minute so that opening a page does not wait on Ollama each time.
    """
    now = time.monotonic()
    cached = _model_names_cache.get(settings.OLLAMA_HOST)
    if cached and now - cached[0] < MODEL_NAMES_TTL_SECONDS:
        return cached[1]
    try:
        names = sorted(m.removesuffix(":latest") for m in llm_status(timeout=1.5).models)
    except LLMUnavailable:
        names = []
    names = names or [settings.OLLAMA_MODEL]
    _model_names_cache[settings.OLLAMA_HOST] = (now, names)
    return names


_sync_clients: dict[tuple, ollama.Client] = {}


class LLMBadAnswer(LLMError):
    """Ollama answered, but not with the JSON that was asked for."""


def llm_json(*, system: str, prompt: str, model: str | None = None, timeout: float = 30.0) -> dict:
    """Ask for a structured answer (Ollama's JSON mode); the parsed object, or LLMError."""
    model = model or settings.OLLAMA_MODEL
    key = _client_key(timeout)
    if key not in _sync_clients:
        # Shared (httpx clients are thread-safe): a new one loads the CA bundle, ~50 ms.
        _sync_clients[key] = ollama.Client(
            host=settings.OLLAMA_HOST, timeout=timeout, headers=settings.OLLAMA_HEADERS
        )
    try:
        response = _sync_clients[key].chat(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            format="json",
            stream=False,
            options={"temperature": 0},
        )
    except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise LLMUnavailable(llm_unreachable_message()) from exc
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise LLMModelMissing(llm_model_missing_message(model=model)) from exc
        raise LLMBadAnswer(f"Ollama answered with an error: {exc.error}") from exc
    except httpx.HTTPError as exc:
        raise LLMUnavailable(llm_unreachable_message()) from exc
    try:
        answer = json.loads(response.message.content or "")
    except ValueError as exc:
        raise LLMBadAnswer("the model's answer was not JSON") from exc
    if not isinstance(answer, dict):
        raise LLMBadAnswer("the model's answer was not a JSON object")
    return answer
