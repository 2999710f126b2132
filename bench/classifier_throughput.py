"""Importance classifier throughput: messages per second, one at a time and in batches.

    PIPO_IMPORTANCE_MODEL_DIR=/tmp/pipo-train/models/importance \\
        .venv/bin/python -m bench.classifier_throughput --runtimes onnx torch

Scores the project's test split (memory/data/importance/test.jsonl; `--split test_context`
for replies read with the message they answer) with a trained model,
first one message per call (the consolidation path), then in batches, with each runtime
(ONNX Runtime and PyTorch) on `PIPO_TORCH_THREADS` threads. The first pass of each is a
warm-up and is not timed. Nothing is written but the ONNX export beside the model.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench.common import pct

DATA_DIR = Path(__file__).resolve().parent.parent / "memory/data/importance"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", nargs="+", choices=["onnx", "torch"], default=["onnx"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the split")
    parser.add_argument("--split", choices=["test", "test_context"], default="test")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipo.settings")
    import django

    django.setup()
    from django.conf import settings

    from memory.classifier import ClassifierScorer

    model_dir = Path(settings.PIPO_IMPORTANCE_MODEL_DIR)
    if not (model_dir / "metrics.json").is_file():
        print(f"no trained model in {model_dir}: run manage.py train_importance first")
        return 2
    rows = [
        json.loads(line) for line in (DATA_DIR / f"{args.split}.jsonl").read_text().splitlines()
    ]
    texts = [row["text"] for row in rows]
    around = [row.get("context", "") for row in rows]
    print(
        f"model {model_dir}; {len(texts)} {args.split} messages; "
        f"threads {settings.PIPO_TORCH_THREADS}"
    )
    print(f"| runtime | one per call: msg/s | p50 | p95 | batches of {args.batch}: msg/s |")
    print("|---|---|---|---|---|")
    for runtime in args.runtimes:
        scorer = ClassifierScorer(model_dir, threads=settings.PIPO_TORCH_THREADS, runtime=runtime)
        scorer.score_many(texts[:8], around[:8])  # load (and export) outside the timing
        for text, context in zip(texts, around, strict=True):
            scorer.score_many([text], [context])
        single: list[float] = []
        start = time.perf_counter()
        for _ in range(args.repeat):
            for text, context in zip(texts, around, strict=True):
                t = time.perf_counter()
                scorer.score_many([text], [context])
                single.append((time.perf_counter() - t) * 1000)
        single_rate = len(single) / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(args.repeat):
            for i in range(0, len(texts), args.batch):
                scorer.score_many(texts[i : i + args.batch], around[i : i + args.batch])
        batch_rate = args.repeat * len(texts) / (time.perf_counter() - start)
        print(
            f"| {scorer.runtime} | {single_rate:.0f} | {pct(single, 0.5):.1f} ms | "
            f"{pct(single, 0.95):.1f} ms | {batch_rate:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
