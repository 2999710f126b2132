from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from memory.classifier import importance_model_dir
from memory.training import DATA_DIR, TrainingError, importance_train


class Command(BaseCommand):
    help = (
        "Fine-tune the importance classifier (kinds of memory + 'other') on the CPU from "
        "the packaged all-MiniLM-L6-v2 or a local BERT/DistilBERT checkpoint, evaluate it "
        "on the test split and save it where the scorer picks it up."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--base", type=Path, help="a local checkpoint folder (default: packaged MiniLM)"
        )
        parser.add_argument(
            "--epochs",
            type=int,
            default=None,
            help=f"at most this many epochs (default {settings.PIPO_IMPORTANCE_EPOCHS}; "
            "stops early when the validation F1 stops improving)",
        )
        parser.add_argument(
            "--out", type=Path, help="model folder (default: PIPO_IMPORTANCE_MODEL_DIR)"
        )
        parser.add_argument("--limit", type=int, help="train on the first N training rows only")
        parser.add_argument(
            "--data",
            type=Path,
            default=DATA_DIR,
            help="folder with train/valid/test.jsonl (default: memory/data/importance)",
        )

    def handle(
        self, *args, base=None, epochs=None, out=None, limit=None, data=DATA_DIR, **options
    ) -> None:
        out = out or importance_model_dir()
        if base is not None and not base.is_dir():
            raise CommandError(f"--base {base}: no such folder")
        try:
            metrics = importance_train(
                base=base,
                epochs=epochs,
                out=out,
                limit=limit,
                data_dir=data,
                bar_file=self.stderr,
                log=self.stdout.write,
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        self._print(metrics, out)

    def _print(self, metrics: dict, out: Path) -> None:
        test = metrics["test"]
        table = Table(title=f"importance classifier, test split ({metrics['data']['test']} rows)")
        for column in ("precision", "recall", "F1", "accuracy", "kind accuracy"):
            table.add_column(column, justify="right")
        table.add_row(*(f"{test[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy")),
                      f"{test['kind_accuracy']:.3f}")  # fmt: skip
        replies = metrics.get("test_context")
        if replies:
            table.add_row(*(f"{replies[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy")),
                          f"{replies['kind_accuracy']:.3f}",
                          end_section=False)  # fmt: skip
            table.caption = (
                f"second row: replies read with the message they answer "
                f"(test_context, {metrics['data']['test_context']} rows)"
            )
        console = Console(file=self.stdout, width=120)
        console.print(table)
        (tn, fp), (fn, tp) = test["confusion_matrix"]
        confusion = Table(title="confusion matrix (keep)")
        confusion.add_column("")
        confusion.add_column("predicted skip", justify="right")
        confusion.add_column("predicted keep", justify="right")
        confusion.add_row("true skip", str(tn), str(fp))
        confusion.add_row("true keep", str(fn), str(tp))
        console.print(confusion)
        self.stdout.write(
            f"base {metrics['base']}; {metrics['epochs_run']} of {metrics['epochs']} epochs "
            f"(best {metrics['best_epoch']}, valid F1 {metrics['valid_f1']:.3f}); "
            f"{metrics['data']['train']} training rows; "
            f"{metrics['training_seconds']:.0f} s of training"
        )
        gate = test.get("at_gate")
        if gate and gate["threshold"] != metrics["keep_threshold"]:
            self.stdout.write(
                f"at the consolidation gate (importance >= {gate['threshold']}, "
                f"PIPO_CLASSIFIER_KEEP_THRESHOLD): test precision {gate['precision']:.3f}, "
                f"recall {gate['recall']:.3f}, F1 {gate['f1']:.3f}"
            )
        self.stdout.write(f"saved to {out}")
