"""The one Ollama client of PIPO: chat streams replies through it, memory asks it to merge.

Everything that talks to Ollama goes through here, so the host, the model and the way a
missing server is reported stay in one place.
"""

from dataclasses import dataclass

import httpx
import ollama
from django.conf import settings


class LLMUnavailable(Exception):
    """Ollama cannot be reached; the message says what to do about it."""


def llm_unreachable_message(*, host: str | None = None) -> str:
    host = host or settings.OLLAMA_HOST
    return (
        f"PIPO can't reach the language model at {host}. Is Ollama running? "
        f"(ollama serve; ollama pull {settings.OLLAMA_MODEL})"
    )


def llm_client(*, timeout: float | None = None) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=settings.OLLAMA_HOST, timeout=timeout)


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
    client = ollama.Client(host=settings.OLLAMA_HOST, timeout=timeout)
    try:
        listing = client.list()
    except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
        raise LLMUnavailable(llm_unreachable_message()) from exc
    names = tuple(m.model for m in listing.models if m.model)
    return LLMStatus(host=settings.OLLAMA_HOST, model=settings.OLLAMA_MODEL, models=names)
