"""The trained importance classifier: a fine-tuned MiniLM behind the `Scorer` interface.

`manage.py train_importance` (memory/training.py) writes the model, its tokenizer and
`metrics.json` into `PIPO_IMPORTANCE_MODEL_DIR`; `metrics.json` is written last and the
folder is renamed into place whole, so a folder with `metrics.json` is a finished model.

One model, seven labels: the six kinds of memory and `other` (not worth keeping).
importance = 1 - P(other); kind = the most likely of the six kinds when the message is
kept (importance >= 0.5, the data's own keep boundary), else `other`, as the rules do.

The model is loaded once per scorer, on first use, behind a lock; inference also holds
the lock (a fast tokenizer is not safe to share between threads). Nothing downloads.

With PIPO_INFERENCE_RUNTIME=onnx (the default) it runs in ONNX Runtime from an export
beside the model folder (`importance.onnx`), made on first load and checked against
PyTorch on PROBE_TEXTS; a retrained model (another metrics.json) is exported again. A
failed export logs one warning and leaves the scorer on PyTorch.
"""

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

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
from memory.scoring import Score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

logger = logging.getLogger(__name__)

KINDS = ("fact", "preference", "event", "plan", "relationship", "summary", "other")
KEEP_KINDS = KINDS[:-1]
# A message is worth keeping when importance >= this (the dataset's `keep` boundary).
KEEP_THRESHOLD = 0.5
MAX_TOKENS = 96
# Characters looked at before tokenising: far more than MAX_TOKENS tokens ever need, so a
# 100 KB paste costs no more than a paragraph.
MAX_CHARS = 2_000
# The message a reply answers, when the model was trained with it (metrics "context_input"):
# the reply's subject often sits there, mostly at its end ("... What do you do for work?").
# Its tail only: inference time grows with the tokens (17 -> 8 ms, 34 -> 13 ms, 85 -> 30
# ms here), and consolidation has 50 ms.
CONTEXT_MAX_CHARS = 120
METRICS_FILE = "metrics.json"
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts an export must score as PyTorch does (probabilities within MAX_PROBE_DIFF).
PROBE_TEXTS = [
    "My sister Ana moved to Porto last week and starts at the hospital in May.",
    "thanks!",
    "Je suis allergique aux noix, ne me propose jamais de recettes avec.",
    "明日は母の誕生日なので花を買う 🌷",
    "",
    "Nurse, at the children's hospital",
]
PROBE_CONTEXTS = ["", "assistant: Glad I could help!", "", "", "", "assistant: What do you do?"]
MAX_PROBE_DIFF = 1e-4
EXPORT_WAIT_SECONDS = 300


def context_clipped(context: str) -> str:
    """ "speaker: words" with only the last CONTEXT_MAX_CHARS characters of the words."""
    speaker, colon, words = (context or "").partition(": ")
    if not colon:
        speaker, words = "", speaker
    words = words.strip()
    if len(words) > CONTEXT_MAX_CHARS:
        tail = words[-CONTEXT_MAX_CHARS:]
        words = "… " + (tail.split(" ", 1)[1] if " " in tail[:20] else tail)
    return f"{speaker}: {words}" if speaker else words


def importance_encode(tokenizer, texts: list[str], contexts: list[str], *, max_length: int):
    """Token ids of each message, followed by the message it replies to when there is one.

    One row at a time: a batch call can't mix single texts with pairs.
    """
    return [
        tokenizer(
            (text or "")[:MAX_CHARS],
            context_clipped(context) or None,
            truncation=True,
            max_length=max_length,
        )
        for text, context in zip(texts, contexts, strict=True)
    ]


class ClassifierUnavailable(Exception):
    """The trained model could not be loaded or run."""


def importance_model_dir() -> Path:
    return Path(settings.PIPO_IMPORTANCE_MODEL_DIR)


def classifier_onnx_file(model_dir: Path) -> Path:
    # Beside the folder, not in it: training replaces the folder whole.
    return model_dir.parent / f"{model_dir.name}.onnx"


def model_metrics(model_dir: Path) -> dict:
    """The finished model's metrics.json; raises ClassifierUnavailable when unreadable."""
    try:
        metrics = json.loads((model_dir / METRICS_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ClassifierUnavailable(f"can't read {model_dir / METRICS_FILE}: {exc}") from exc
    if not isinstance(metrics, dict):
        raise ClassifierUnavailable(f"{model_dir / METRICS_FILE} is not a JSON object")
    return metrics


def scores_from_probabilities(
    rows, other_index: int, kind_indices: list[int], labels, keep_threshold: float = KEEP_THRESHOLD
):
    """Scores from per-class probabilities (rows of floats), for inference and evaluation.

    A message that would be kept (importance >= keep_threshold) gets the likeliest of the
    six kinds; the rest are `other`.
    """
    out = []
    for probs in rows:
        importance = min(max(1.0 - float(probs[other_index]), 0.0), 1.0)
        if importance >= keep_threshold:
            kind = labels[max(kind_indices, key=lambda i: probs[i])]
        else:
            kind = "other"
        out.append(Score(importance=round(importance, 3), kind=kind))
    return out


class ClassifierScorer:
    batch_size = 64

    def __init__(self, model_dir: Path, *, threads: int, runtime: str | None = None) -> None:
        self.model_dir = Path(model_dir)
        self._threads = threads
        self._lock = threading.Lock()
        self._model = None
        self._session = None
        self._tokenizer = None
        runtime = runtime or settings.PIPO_INFERENCE_RUNTIME
        self._onnx_file = classifier_onnx_file(self.model_dir) if runtime == "onnx" else None
        # "onnx" or "torch" once loaded.
        self.runtime: str | None = None
        self.metrics = model_metrics(self.model_dir)
        f1 = (self.metrics.get("test") or {}).get("f1")
        self.name = f"classifier (F1 {f1:.2f})" if isinstance(f1, int | float) else "classifier"
        # Models trained before replies were read in context score the message alone.
        self.reads_context = bool(self.metrics.get("context_input"))

    @property
    def keep_threshold(self) -> float:
        """importance = 1 - P(other); see PIPO_CLASSIFIER_KEEP_THRESHOLD for where it gates."""
        return settings.PIPO_CLASSIFIER_KEEP_THRESHOLD

    def _load(self) -> None:
        import transformers
        from transformers import AutoConfig, AutoTokenizer

        transformers.utils.logging.disable_progress_bar()
        path = str(self.model_dir)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        labels = [config.id2label[i] for i in range(config.num_labels)]
        if sorted(labels) != sorted(KINDS):
            raise ClassifierUnavailable(f"{path}: labels {labels} are not {list(KINDS)}")
        self._labels = labels
        self._other = labels.index("other")
        self._kind_indices = [labels.index(k) for k in KEEP_KINDS]
        self._max_tokens = int(self.metrics.get("max_length") or MAX_TOKENS)
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        onnx_error = None
        if self._onnx_file is not None:
            try:
                self._session = self._onnx_load(self._onnx_file)
                self.runtime = "onnx"
                return
            except Exception as exc:
                onnx_error = exc
        # A model PyTorch can't load either is the scorer's one warning, not this one.
        self._load_torch()
        if onnx_error is not None:
            logger.warning(
                "importance classifier runs in PyTorch: ONNX Runtime failed (%s)", onnx_error
            )

    def _load_torch(self, *, attn_implementation: str | None = None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.set_num_threads(self._threads)
        extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
        self._model = AutoModelForSequenceClassification.from_pretrained(
            str(self.model_dir), local_files_only=True, **extra
        ).eval()
        self.runtime = "torch"

    def _onnx_load(self, onnx_file: Path):
        source = hashlib.sha256((self.model_dir / METRICS_FILE).read_bytes()).hexdigest()
        onnx_file.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{onnx_file}.lock", timeout=EXPORT_WAIT_SECONDS):
            if onnx_file.exists():
                try:
                    session = onnx_session(onnx_file, threads=self._threads)
                    probe = onnx_probe_stored(session)
                    probed = (probe["texts"], probe.get("contexts"))
                    if probe.get("source") == source and probed == (PROBE_TEXTS, PROBE_CONTEXTS):
                        self._probe_check(session, probe["outputs"])
                        return session
                    logger.info("%s is of an earlier model: exporting it again", onnx_file)
                except Exception as exc:
                    logger.warning("%s can't be used (%s): exporting it again", onnx_file, exc)
            return self._onnx_export(onnx_file, source=source)

    def _onnx_export(self, onnx_file: Path, *, source: str):
        started = time.monotonic()
        # Eager attention exports to plain ops; see _bert_logits for the mask.
        self._load_torch(attn_implementation="eager")
        try:
            module = _bert_logits(self._model)
            reference = self._torch_probabilities(PROBE_TEXTS, PROBE_CONTEXTS)
            example = self._tokenized(PROBE_TEXTS[:2], PROBE_CONTEXTS[:2], "pt")
            session = onnx_export_checked(
                module=module,
                example_inputs={k: example[k] for k in ONNX_INPUTS},
                output_name="logits",
                path=onnx_file,
                threads=self._threads,
                probe={
                    "texts": PROBE_TEXTS,
                    "contexts": PROBE_CONTEXTS,
                    "outputs": reference,
                    "source": source,
                },
                check=lambda session: self._probe_check(session, reference),
            )
            logger.info(
                "exported %s to %s in %.1f s", self.model_dir, onnx_file, time.monotonic() - started
            )
            return session
        finally:
            self._model = None

    def _probe_check(self, session, expected) -> None:
        got = self._onnx_probabilities(PROBE_TEXTS, PROBE_CONTEXTS, session=session)
        expected = np.asarray(expected, dtype=np.float64)
        if got.shape != expected.shape:
            raise OnnxMismatch(f"{got.shape} probabilities, PyTorch gave {expected.shape}")
        diff = float(np.abs(got - expected).max())
        if diff > MAX_PROBE_DIFF or (got.argmax(1) != expected.argmax(1)).any():
            raise OnnxMismatch(f"probabilities differ from PyTorch's by {diff:.2g}")

    def _tokenized(self, texts: list[str], contexts: list[str], tensors: str):
        if not self.reads_context:
            contexts = [""] * len(texts)
        rows = importance_encode(self._tokenizer, texts, contexts, max_length=self._max_tokens)
        return self._tokenizer.pad(rows, return_tensors=tensors)

    def _onnx_probabilities(self, texts: list[str], contexts: list[str], *, session) -> np.ndarray:
        batch = self._tokenized(texts, contexts, "np")
        logits = onnx_run(session, {k: batch[k] for k in ONNX_INPUTS if k in batch})
        logits = logits.astype(np.float64)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def _torch_probabilities(self, texts: list[str], contexts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self._model(**self._tokenized(texts, contexts, "pt")).logits.double()
            return torch.softmax(logits, dim=-1).numpy()

    def load(self) -> None:
        """Load now (idempotent); raises ClassifierUnavailable."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> None:
        if self.runtime is not None:
            return
        try:
            self._load()
        except ClassifierUnavailable:
            raise
        except Exception as exc:
            raise ClassifierUnavailable(f"can't load {self.model_dir}: {exc}") from exc

    def score_many(self, texts: list[str], contexts: list[str] | None = None) -> list[Score]:
        if not texts:
            return []
        contexts = list(contexts) if contexts is not None else [""] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        with self._lock:
            self._ensure_loaded()
            out: list[Score] = []
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                around = contexts[start : start + self.batch_size]
                if self._session is not None:
                    probs = self._onnx_probabilities(batch, around, session=self._session)
                else:
                    probs = self._torch_probabilities(batch, around)
                out.extend(
                    scores_from_probabilities(
                        probs.tolist(),
                        self._other,
                        self._kind_indices,
                        self._labels,
                        self.keep_threshold,
                    )
                )
        return out

    def score(self, text: str, context: str = "") -> Score:
        return self.score_many([text], [context])[0]


def _bert_logits(model):
    """A BertForSequenceClassification as one traceable forward, for export.

    The additive attention mask is built here: transformers' own mask helpers trace into
    constants of the example's shape.
    """
    import torch

    bert = getattr(model, "bert", None)
    if bert is None or getattr(bert, "pooler", None) is None:
        raise OnnxMismatch(f"only BERT models export, not {type(model).__name__}")

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            x = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            blocked = 1.0 - attention_mask[:, None, None, :].to(x.dtype)
            additive = blocked * torch.finfo(x.dtype).min
            hidden = bert.encoder(x, attention_mask=additive).last_hidden_state
            return self.model.classifier(self.model.dropout(bert.pooler(hidden)))

    return Logits()
