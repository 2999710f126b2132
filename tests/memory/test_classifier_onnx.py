"""The importance classifier in ONNX Runtime: PyTorch's answers, exported once per model.

One small model is trained for the module (200 rows, 1 epoch), as in test_classifier.py.
"""

import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.test import override_settings

from memory.classifier import ClassifierScorer, classifier_onnx_file

LOGGER = "memory.classifier"

TEXTS = [
    "",
    "🎉🎉🔥😂",
    "x" * 100_000,
    "my sister Ana moved to Porto last week",
    "J'adore le fromage et j'habite à Lyon avec ma sœur Camille.",
    "Меня зовут Ольга, я живу в Казани.",
    "ok thanks",
    "Remind me: dentist next Tuesday at 3pm, and pick up Sam from school after.",
]
# Each text with the message it replies to (a second segment for the model), or none.
CONTEXTS = ["", "Ana: We won!", "", "assistant: Any news?", "", "", "assistant: " + "y" * 5000, ""]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("importance") / "model"
    with override_settings(PIPO_IMPORTANCE_TRAIN_THREADS=1):
        call_command(
            "train_importance", "--limit", "200", "--epochs", "1", "--out", str(out),
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def torch_scorer(trained: Path) -> ClassifierScorer:
    scorer = ClassifierScorer(trained, threads=1, runtime="torch")
    scorer.load()
    return scorer


@pytest.fixture(scope="module")
def onnx_scorer(trained: Path) -> ClassifierScorer:
    scorer = ClassifierScorer(trained, threads=1, runtime="onnx")
    scorer.load()
    assert scorer.runtime == "onnx"
    return scorer


@pytest.mark.parametrize("contexts", [[""] * len(TEXTS), CONTEXTS], ids=["alone", "replies"])
def test_onnx_scores_as_torch_does(onnx_scorer, torch_scorer, contexts):
    onnx_probs = onnx_scorer._onnx_probabilities(TEXTS, contexts, session=onnx_scorer._session)
    torch_probs = torch_scorer._torch_probabilities(TEXTS, contexts)
    assert np.abs(onnx_probs - torch_probs).max() <= 1e-4
    assert (onnx_probs.argmax(axis=1) == torch_probs.argmax(axis=1)).all()
    assert onnx_scorer.score_many(TEXTS, contexts) == torch_scorer.score_many(TEXTS, contexts)


def test_the_torch_runtime_writes_no_export(trained, tmp_path):
    model_dir = tmp_path / "importance"
    shutil.copytree(trained, model_dir)
    scorer = ClassifierScorer(model_dir, threads=1, runtime="torch")
    assert scorer.score(TEXTS[3]).kind
    assert scorer.runtime == "torch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["importance"]


def test_a_later_load_reuses_the_export(trained, onnx_scorer, caplog):
    onnx_file = classifier_onnx_file(trained)
    before = onnx_file.stat()
    again = ClassifierScorer(trained, threads=1, runtime="onnx")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        again.load()
    after = onnx_file.stat()
    assert again.runtime == "onnx"
    assert caplog.records == []
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_retrained_model_is_exported_again_without_warning(
    trained, torch_scorer, tmp_path, caplog
):
    model_dir = tmp_path / "importance"
    shutil.copytree(trained, model_dir)
    shutil.copy(classifier_onnx_file(trained), classifier_onnx_file(model_dir))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    (model_dir / "metrics.json").write_text(json.dumps({**metrics, "retrained": True}))
    scorer = ClassifierScorer(model_dir, threads=1, runtime="onnx")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        scorer.load()
    assert scorer.runtime == "onnx"
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]
    assert "earlier model" in caplog.records[0].getMessage()
    assert caplog.records[1].getMessage().startswith("exported ")
    assert scorer.score_many(TEXTS) == torch_scorer.score_many(TEXTS)


def test_a_corrupt_export_is_replaced_with_one_warning(trained, torch_scorer, tmp_path, caplog):
    model_dir = tmp_path / "importance"
    shutil.copytree(trained, model_dir)
    classifier_onnx_file(model_dir).write_bytes(b"garbage" * 1000)
    scorer = ClassifierScorer(model_dir, threads=1, runtime="onnx")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        scorer.load()
    assert scorer.runtime == "onnx"
    assert len(caplog.records) == 1
    assert str(classifier_onnx_file(model_dir)) in caplog.records[0].getMessage()
    assert scorer.score_many(TEXTS) == torch_scorer.score_many(TEXTS)


def test_when_onnx_fails_torch_stands_in_with_one_warning(trained, torch_scorer, tmp_path, caplog):
    model_dir = tmp_path / "importance"
    shutil.copytree(trained, model_dir)
    # A folder where the export's lock file goes: ONNX can't be set up at all.
    Path(f"{classifier_onnx_file(model_dir)}.lock").mkdir()
    scorer = ClassifierScorer(model_dir, threads=1, runtime="onnx")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        scores = scorer.score_many(TEXTS)
    assert scorer.runtime == "torch"
    assert len(caplog.records) == 1
    assert "runs in PyTorch" in caplog.records[0].getMessage()
    assert scores == torch_scorer.score_many(TEXTS)
