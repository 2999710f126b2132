"""MiniLM in ONNX Runtime: the same vectors as PyTorch, exported once, never a crash.

One export (a few seconds) serves the whole module: two loads race to make it over a
corrupt file, and every other test reads what they left.
"""

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from memory.embeddings import MiniLMEmbedder

LOGGER = "memory.embeddings"

TEXTS = [
    "",
    "🎉🎉🙂👍",
    "I moved to Berlin last month and I love the bakeries there.",
    "ok",
    "Ma fille Léa est allergique aux arachides.",
    "Меня зовут Ольга, я живу в Казани.",
    "أعيش في القاهرة مع عائلتي",
    "来週の火曜日に歯医者の予約がある",
    "remind me 2 call mom tmrw!!! her bday is on the 14th",
    "x" * 100_000,
    "My sister works as a nurse in Leeds. " * 3_000,  # about 100 KB of words
]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def torch_embedder() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(threads=1)
    embedder.embed(["warm up"])
    assert embedder.runtime == "torch"
    return embedder


@pytest.fixture(scope="module")
def first_loads(tmp_path_factory: pytest.TempPathFactory):
    """Two embedders load at once while a corrupt export is in the way."""
    onnx_file = tmp_path_factory.mktemp("onnx") / "minilm.onnx"
    onnx_file.write_bytes(b"not an onnx model" * 100)
    embedders = [MiniLMEmbedder(threads=1, onnx_file=onnx_file) for _ in range(2)]
    logger, records = logging.getLogger(LOGGER), Records()
    logger.addHandler(records)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        threads = [threading.Thread(target=e.embed, args=(["warm up"],)) for e in embedders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    return onnx_file, embedders, records.records


def test_a_corrupt_export_is_replaced_with_one_warning(first_loads):
    onnx_file, embedders, records = first_loads
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(onnx_file) in warnings[0].getMessage()
    assert [e.runtime for e in embedders] == ["onnx", "onnx"]


def test_two_loads_at_once_export_once_and_leave_one_file(first_loads):
    onnx_file, _, records = first_loads
    exports = [r for r in records if r.getMessage().startswith("exported ")]
    assert len(exports) == 1
    assert sorted(p.name for p in onnx_file.parent.iterdir()) == [
        "minilm.onnx",
        "minilm.onnx.lock",
    ]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_onnx_gives_the_vectors_torch_gives(first_loads, torch_embedder, text):
    onnx_vector = first_loads[1][0].embed([text])
    torch_vector = torch_embedder.embed([text])
    assert onnx_vector.shape == (1, 384)
    assert float((onnx_vector * torch_vector).sum()) >= 0.9999
    assert abs(float(np.linalg.norm(onnx_vector)) - 1.0) < 1e-5


def test_a_batch_comes_back_in_input_order(first_loads, torch_embedder):
    # 70 texts: two batches, sorted by length inside embed(), returned as given.
    texts = [TEXTS[i % len(TEXTS)][: 40 * (i + 1)] + f" #{i}" for i in range(70)]
    onnx_vectors = first_loads[1][0].embed(texts)
    singles = np.concatenate([torch_embedder.embed([t]) for t in texts])
    assert (onnx_vectors * singles).sum(axis=1).min() >= 0.9999


def test_a_later_load_reuses_the_export(first_loads, torch_embedder, caplog):
    onnx_file = first_loads[0]
    before = onnx_file.stat()
    again = MiniLMEmbedder(threads=1, onnx_file=onnx_file)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        vectors = again.embed(TEXTS[2:4])
    after = onnx_file.stat()
    assert again.runtime == "onnx"
    assert caplog.records == []
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (vectors * torch_embedder.embed(TEXTS[2:4])).sum(axis=1).min() >= 0.9999


def test_when_no_export_can_be_written_torch_stands_in(tmp_path: Path, torch_embedder, caplog):
    blocker = tmp_path / "models"
    blocker.write_text("a file where the models folder should be")
    embedder = MiniLMEmbedder(threads=1, onnx_file=blocker / "embeddings" / "minilm.onnx")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        vectors = embedder.embed(TEXTS[2:5])
    assert embedder.runtime == "torch"
    assert len(caplog.records) == 1
    assert "runs in PyTorch" in caplog.records[0].getMessage()
    assert (vectors * torch_embedder.embed(TEXTS[2:5])).sum(axis=1).min() >= 0.9999
