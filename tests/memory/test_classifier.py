"""The importance classifier: training command, scorer, fallback to the rules, background task.

One small model is trained once for the module (200 rows, 1 epoch): it is no good at the
task, but it is a real fine-tuned checkpoint, which is what loading and fallback need.
"""

import io
import json
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from memory import scoring, tasks
from memory.classifier import CONTEXT_MAX_CHARS, KINDS, ClassifierScorer, context_clipped
from memory.embeddings import embed_texts
from memory.scoring import RuleScorer, importance_score, scorer
from memory.services import memory_consolidate, memory_space_for
from memory.training import (
    TrainingError,
    importance_data_load,
    lock_path,
    progress_path,
    training_lock_acquire,
    training_lock_holder,
)
from memory.vectors import vectors_nearest

TEXTS = [
    "",
    "x" * 100_000,
    "J'adore le fromage et j'habite à Lyon avec ma sœur Camille.",
    "🎉🎉🔥😂",
    "my sister Ana moved to Porto last week",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("importance") / "model"
    stdout, stderr = io.StringIO(), io.StringIO()
    # One thread: the test machine may be busy, and two threads then run slower.
    with override_settings(PIPO_IMPORTANCE_TRAIN_THREADS=1):
        call_command(
            "train_importance", "--limit", "200", "--epochs", "1", "--out", str(out),
            stdout=stdout, stderr=stderr,
        )  # fmt: skip
    return out, stdout.getvalue()


@pytest.fixture
def model_dir(settings, tmp_path: Path) -> Path:
    """PIPO_IMPORTANCE_MODEL_DIR pointed at an empty place, rechecked on every call."""
    settings.PIPO_IMPORTANCE_MODEL_DIR = tmp_path / "models" / "importance"
    settings.PIPO_IMPORTANCE_RECHECK_SECONDS = 0
    return settings.PIPO_IMPORTANCE_MODEL_DIR


def test_training_writes_the_model_and_its_metrics(trained):
    out, printed = trained
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == {"train": 200, "valid": 300, "test": 300, "test_context": 240}
    assert metrics["context_input"] is True
    replies = metrics["test_context"]
    (tn, fp), (fn, tp) = replies["confusion_matrix"]
    assert tn + fp == 120 and fn + tp == 120  # replies in context, half keep
    assert metrics["epochs"] == 1 and metrics["epochs_run"] == 1
    assert metrics["labels"] == list(KINDS)
    assert metrics["training_seconds"] > 0
    assert Path(metrics["base"]).is_dir()
    test = metrics["test"]
    for key in ("precision", "recall", "f1", "accuracy", "kind_accuracy"):
        assert 0.0 <= test[key] <= 1.0, key
    (tn, fp), (fn, tp) = test["confusion_matrix"]
    assert tn + fp == 150 and fn + tp == 150  # the test split is half keep
    assert test["accuracy"] == pytest.approx((tn + tp) / 300, abs=1e-4)
    # Finished cleanly: progress says done, no lock and no temporary folder left behind.
    assert json.loads(progress_path(out).read_text())["state"] == "done"
    assert not lock_path(out).exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["model", "model.progress.json"]
    assert "confusion matrix" in printed and f"saved to {out}" in printed


def test_classifier_scores_odd_texts_in_range(trained):
    out, _ = trained
    classifier = ClassifierScorer(out, threads=1)
    assert classifier.name.startswith("classifier (F1 ")
    scores = classifier.score_many(TEXTS)
    assert len(scores) == len(TEXTS)
    for score in scores:
        assert 0.0 <= score.importance <= 1.0
        assert score.kind in KINDS
        assert (score.kind == "other") == (score.importance < classifier.keep_threshold)
    # One at a time gives what the batch gave (padding must not change the answer).
    for text, batched in zip(TEXTS, scores, strict=True):
        assert classifier.score(text).importance == pytest.approx(batched.importance, abs=0.01)


REPLY = "yes, since 2019"
ASKED_ABOUT_SELF = "assistant: Are you still vegetarian?"
ASKED_ABOUT_FORMAT = "assistant: Want me to make it shorter?"


def test_a_model_trained_on_replies_reads_the_message_they_answer(trained, tmp_path):
    out, _ = trained
    classifier = ClassifierScorer(out, threads=1)
    assert classifier.reads_context
    about_self, about_format = classifier.score_many(
        [REPLY, REPLY], [ASKED_ABOUT_SELF, ASKED_ABOUT_FORMAT]
    )
    assert about_self.importance != about_format.importance
    assert classifier.score(REPLY, ASKED_ABOUT_SELF) == about_self
    # A model from before replies were read in context scores the reply alone.
    older = tmp_path / "older"
    shutil.copytree(out, older)
    metrics = json.loads((older / "metrics.json").read_text())
    del metrics["context_input"]
    (older / "metrics.json").write_text(json.dumps(metrics))
    alone = ClassifierScorer(older, threads=1)
    assert not alone.reads_context
    assert (
        alone.score_many([REPLY, REPLY], [ASKED_ABOUT_SELF, ASKED_ABOUT_FORMAT])
        == [alone.score(REPLY)] * 2
    )
    with pytest.raises(ValueError, match="2 texts but 1 contexts"):
        classifier.score_many([REPLY, REPLY], [ASKED_ABOUT_SELF])


def test_only_the_end_of_a_long_context_is_read():
    question = "So, where do you work these days?"
    long = "assistant: " + "Moving is a big step and it takes time. " * 20 + question
    clipped = context_clipped(long)
    assert clipped.startswith("assistant: … ") and clipped.endswith(question)
    assert len(clipped) <= len("assistant: … ") + CONTEXT_MAX_CHARS
    assert context_clipped(ASKED_ABOUT_SELF) == ASKED_ABOUT_SELF
    assert context_clipped("no speaker, " + "x " * 100).startswith("… ")
    assert context_clipped("") == ""


def test_consolidation_scores_a_message_with_the_one_it_answers(
    trained, model_dir, django_user_model
):
    out, _ = trained
    shutil.copytree(out, model_dir)
    classifier = scorer()
    contexts = [ASKED_ABOUT_SELF, ASKED_ABOUT_FORMAT]
    expected = classifier.score_many([REPLY, REPLY], contexts)
    for n, (context, score) in enumerate(zip(contexts, expected, strict=True)):
        person = django_user_model.objects.create_user(username=f"p{n}", email=f"p{n}@x.test")
        memory = memory_consolidate(
            user=person, text=REPLY, said_at=timezone.now(), context=context, keep_all=True,
            supersede=False,
        )  # fmt: skip
        assert memory.importance == pytest.approx(score.importance, abs=1e-6)
    assert expected[0].importance != expected[1].importance


def test_the_keep_threshold_setting_decides_what_consolidation_keeps(
    trained, model_dir, settings, django_user_model
):
    out, _ = trained
    shutil.copytree(out, model_dir)
    importance = scorer().score(REPLY, ASKED_ABOUT_SELF).importance
    kept = []
    for n, gate in enumerate((importance + 0.001, importance)):
        settings.PIPO_CLASSIFIER_KEEP_THRESHOLD = gate
        person = django_user_model.objects.create_user(username=f"g{n}", email=f"g{n}@x.test")
        kept.append(
            memory_consolidate(
                user=person, text=REPLY, said_at=timezone.now(), context=ASKED_ABOUT_SELF
            )
        )
    assert kept[0] is None
    assert kept[1] is not None and kept[1].kind != "other"
    # Its vector was computed beside the classifier, from the memory's own key.
    space = memory_space_for(user=kept[1].user)
    nearest = vectors_nearest(
        collection=space.collection, vector=embed_texts([kept[1].key_text])[0].tolist(), n=1
    )
    assert nearest[0][0] == kept[1].pk and nearest[0][1] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"text": "hi", "keep": 0, "kind": "other", "context": 7}, "context is int"),
        ({"text": "hi", "keep": 1, "kind": "other"}, "do not fit"),
    ],
)
def test_training_data_rows_are_checked(tmp_path, row, message):
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(TrainingError, match=message):
        importance_data_load("train", data_dir=tmp_path)


def test_training_data_rows_carry_their_context(tmp_path):
    rows = [
        {"text": "Nurse", "keep": 1, "kind": "fact", "context": "assistant: What do you do?"},
        {"text": "thanks!", "keep": 0, "kind": "other"},
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = importance_data_load("train", data_dir=tmp_path)
    assert [r["context"] for r in loaded] == ["assistant: What do you do?", ""]


def test_classifier_is_safe_to_share_between_threads(trained):
    out, _ = trained
    classifier = ClassifierScorer(out, threads=1)
    expected = classifier.score_many(TEXTS[2:])
    results, errors = [], []

    def work() -> None:
        try:
            results.append(classifier.score_many(TEXTS[2:]))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4
    for found in results:
        assert [s.kind for s in found] == [s.kind for s in expected]
        assert [s.importance for s in found] == pytest.approx(
            [s.importance for s in expected], abs=1e-3
        )


def test_scorer_picks_up_a_model_saved_later_without_restart(trained, model_dir, settings):
    out, _ = trained
    settings.PIPO_IMPORTANCE_RECHECK_SECONDS = 3600
    assert scorer().name == "rules"
    text = "my daughter Mia starts school in September"
    assert importance_score(text) == RuleScorer().score(text)

    shutil.copytree(out, model_dir)
    assert scorer().name == "rules"  # looked a moment ago: not looked again yet

    settings.PIPO_IMPORTANCE_RECHECK_SECONDS = 0
    chosen = scorer()
    assert isinstance(chosen, ClassifierScorer)
    assert chosen.name.startswith("classifier")
    assert scorer() is chosen  # loaded once, not per call
    score = importance_score(text)
    assert score == chosen.score(text)
    assert 0.0 <= score.importance <= 1.0 and score.kind in KINDS


@pytest.mark.parametrize("broken", ["weights", "metrics"])
def test_a_corrupt_model_falls_back_to_the_rules_with_one_warning(
    trained, model_dir, caplog, broken
):
    out, _ = trained
    shutil.copytree(out, model_dir)
    if broken == "weights":
        (model_dir / "model.safetensors").write_bytes(b"not a safetensors file" * 100)
    else:
        (model_dir / "metrics.json").write_text("{truncated")
    text = "I'm allergic to peanuts"
    with caplog.at_level(logging.WARNING, logger="memory.scoring"):
        for _ in range(3):
            assert scorer().name == "rules"
            assert importance_score(text) == RuleScorer().score(text)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unusable" in warnings[0].getMessage()
    assert str(model_dir) in warnings[0].getMessage()


def test_a_missing_model_uses_the_rules_with_one_warning(model_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="memory.scoring"):
        for _ in range(3):
            assert scorer() is scoring._rules
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "no trained importance model" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--limit", "0"], "limit must be at least 1"),
        (["--base", "/nonexistent/checkpoint"], "no such folder"),
        (["--base", "{tmp}"], "not a local checkpoint folder"),
        (["--data", "{tmp}"], "missing training data"),
    ],
)
def test_train_importance_refuses_bad_input(tmp_path, args, message):
    out = tmp_path / "out" / "model"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("train_importance", *args, "--out", str(out), stdout=io.StringIO())
    assert not out.exists()
    assert not lock_path(out).exists()


def _fresh_lock(model_dir: Path) -> None:
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path(model_dir).write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time()})
    )


def test_background_task_leaves_an_existing_model_alone(trained, model_dir):
    out, _ = trained
    shutil.copytree(out, model_dir)
    before = {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()}
    said = tasks.importance_train_if_missing()
    assert "exists" in said
    assert {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()} == before
    assert not progress_path(model_dir).exists() and not lock_path(model_dir).exists()


def test_background_task_and_command_wait_for_a_running_training(model_dir):
    _fresh_lock(model_dir)
    said = tasks.importance_train_if_missing()
    assert "already running" in said and str(os.getpid()) in said
    assert not model_dir.exists() and not progress_path(model_dir).exists()
    with pytest.raises(CommandError, match="already running"):
        call_command("train_importance", "--limit", "10", stdout=io.StringIO())
    assert lock_path(model_dir).exists()  # someone else's lock is not ours to remove


def test_a_stale_training_lock_is_taken_over(model_dir):
    model_dir.parent.mkdir(parents=True)
    stale = time.time() - 31 * 60
    lock_path(model_dir).write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": stale})
    )
    assert training_lock_holder(model_dir) is None
    taken = training_lock_acquire(model_dir)
    assert json.loads(taken.read_text())["started_at"] > stale
    assert training_lock_holder(model_dir)["pid"] == os.getpid()


@pytest.mark.django_db
def test_status_says_rules_then_training_then_the_classifier(trained, model_dir):
    from pipo.status import status_memory

    assert status_memory().backend.endswith("importance: rules (run manage.py train_importance)")

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    progress_path(model_dir).write_text(
        json.dumps({"state": "training", "step": 30, "total": 75, "started_at": now,
                    "updated_at": now})
    )  # fmt: skip
    assert status_memory().backend.endswith("importance: rules while training (40%)")

    out, _ = trained
    shutil.copytree(out, model_dir)
    f1 = json.loads((out / "metrics.json").read_text())["test"]["f1"]
    assert status_memory().backend.endswith(f"importance: classifier (F1 {f1:.2f})")
