import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from memory.evaluation import BASELINES, EvaluationDataError, locomo_evaluate, locomo_load


class Command(BaseCommand):
    help = (
        "Replay a LoCoMo-format file through the memory pipeline and score recall of the "
        "evidence turns (recall@k, recall_all@k, recall_any@k per category)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="a LoCoMo-format JSON file")
        parser.add_argument("--k", nargs="+", type=int, default=[5, 10], help="cut-offs")
        parser.add_argument("--json", type=Path, help="also write the figures to this file")
        parser.add_argument(
            "--keep-all",
            action="store_true",
            help="keep every turn (no importance gating), to measure what gating costs",
        )
        parser.add_argument(
            "--baseline",
            choices=BASELINES,
            help="store every raw turn and rank by BM25 or dense cosine alone",
        )

    def handle(self, *args, data: Path, k: list[int], json: Path | None, baseline, **options):
        keep_all = options.get("keep_all", False)
        if any(cut < 1 for cut in k):
            raise CommandError("--k takes positive numbers, e.g. --k 5 10")
        try:
            conversations = locomo_load(data)
        except EvaluationDataError as exc:
            raise CommandError(str(exc)) from exc
        turns = sum(len(c["turns"]) for c in conversations)
        with tqdm(total=turns, unit="turn", desc="feeding turns", file=self.stderr) as bar:
            figures = locomo_evaluate(
                conversations=conversations,
                ks=tuple(k),
                baseline=baseline,
                keep_all=keep_all,
                step=bar.update,
            )
        self._print(figures, sorted(set(k)))
        if json is not None:
            json.write_text(_dumps(figures))
            self.stdout.write(f"Wrote {json}")

    def _print(self, figures: dict, ks: list[int]) -> None:
        table = Table(title=f"LoCoMo recall ({figures['method']})")
        table.add_column("category")
        table.add_column("questions", justify="right")
        for cut in ks:
            for name in (f"recall@{cut}", f"recall_all@{cut}", f"recall_any@{cut}"):
                table.add_column(name, justify="right")
        rows = [*figures["per_category"].items(), ("overall", figures)]
        for name, row in rows:
            cells = [f"{row[f'{m}@{cut}']:.3f}" for cut in ks for m in ("recall", "recall_all",
                     "recall_any")]  # fmt: skip
            table.add_row(name, str(row["questions"]), *cells)
        console = Console(file=self.stdout, width=160)
        console.print(table)
        console.print(
            f"{figures['memories']} memories kept from {figures['turns']} turns "
            f"in {figures['conversations']} conversations, {figures['seconds']} s"
        )


def _dumps(figures: dict) -> str:
    return json.dumps(figures, indent=2)
