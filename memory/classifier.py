"""The trained importance classifier: a fine-tuned MiniLM behind the `Scorer` interface.

`manage.py train_importance` (memory/training.py) writes the model, its tokenizer and
`metrics.json` into `PIPO_IMPORTANCE_MODEL_DIR`; `metrics.json` is written last and the
folder is renamed into place whole, so a folder with `metrics.json` is a finished model.

One model, seven labels: the six kinds of memory and `other` (not worth keeping).
importance = 1 - P(other); kind = the most likely of the six kinds when the message is
kept (importance >= 0.5, the data's own keep boundary), else `other`, as the rules do.

The model is loaded once per scorer, on first use, behind a lock; inference also holds
the lock (a fast tokenizer is not safe to share between threads). Nothing downloads.
"""

import json
import logging
import os
import threading
from pathlib import Path

from django.conf import settings

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
METRICS_FILE = "metrics.json"


class ClassifierUnavailable(Exception):
    """The trained model could not be loaded or run."""


def importance_model_dir() -> Path:
    return Path(settings.PIPO_IMPORTANCE_MODEL_DIR)


def model_metrics(model_dir: Path) -> dict:
    """The finished model's metrics.json; raises ClassifierUnavailable when unreadable."""
    try:
        metrics = json.loads((model_dir / METRICS_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ClassifierUnavailable(f"can't read {model_dir / METRICS_FILE}: {exc}") from exc
    if not isinstance(metrics, dict):
        raise ClassifierUnavailable(f"{model_dir / METRICS_FILE} is not a JSON object")
    return metrics


def scores_from_probabilities(rows, other_index: int, kind_indices: list[int], labels):
    """Scores from per-class probabilities (rows of floats), for inference and evaluation."""
    out = []
    for probs in rows:
        importance = min(max(1.0 - float(probs[other_index]), 0.0), 1.0)
        if importance >= KEEP_THRESHOLD:
            kind = labels[max(kind_indices, key=lambda i: probs[i])]
        else:
            kind = "other"
        out.append(Score(importance=round(importance, 3), kind=kind))
    return out


class ClassifierScorer:
    batch_size = 64
    keep_threshold = 0.5  # importance = 1 - P(other): kept when "other" is the less likely

    def __init__(self, model_dir: Path, *, threads: int) -> None:
        self.model_dir = Path(model_dir)
        self._threads = threads
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        self.metrics = model_metrics(self.model_dir)
        f1 = (self.metrics.get("test") or {}).get("f1")
        self.name = f"classifier (F1 {f1:.2f})" if isinstance(f1, int | float) else "classifier"

    def _load(self) -> None:
        import torch
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(self._threads)
        transformers.utils.logging.disable_progress_bar()
        path = str(self.model_dir)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if sorted(labels) != sorted(KINDS):
            raise ClassifierUnavailable(f"{path}: labels {labels} are not {list(KINDS)}")
        self._labels = labels
        self._other = labels.index("other")
        self._kind_indices = [labels.index(k) for k in KEEP_KINDS]
        self._max_tokens = int(self.metrics.get("max_length") or MAX_TOKENS)
        self._tokenizer, self._model = tokenizer, model.eval()

    def load(self) -> None:
        """Load now (idempotent); raises ClassifierUnavailable."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        try:
            self._load()
        except ClassifierUnavailable:
            raise
        except Exception as exc:
            raise ClassifierUnavailable(f"can't load {self.model_dir}: {exc}") from exc

    def score_many(self, texts: list[str]) -> list[Score]:
        import torch

        if not texts:
            return []
        clipped = [(t or "")[:MAX_CHARS] for t in texts]
        with self._lock:
            self._ensure_loaded()
            out: list[Score] = []
            with torch.inference_mode():
                for start in range(0, len(clipped), self.batch_size):
                    batch = self._tokenizer(
                        clipped[start : start + self.batch_size],
                        padding=True,
                        truncation=True,
                        max_length=self._max_tokens,
                        return_tensors="pt",
                    )
                    probs = torch.softmax(self._model(**batch).logits.float(), dim=-1)
                    out.extend(
                        scores_from_probabilities(
                            probs.tolist(), self._other, self._kind_indices, self._labels
                        )
                    )
        return out

    def score(self, text: str) -> Score:
        return self.score_many([text])[0]
