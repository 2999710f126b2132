from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from memory.embeddings import EmbeddingsUnavailable
from memory.merging import MergeReport, memories_merge


class Command(BaseCommand):
    help = (
        "Long-term consolidation: merge each person's near-duplicate memories into one "
        "(PIPO_MERGE_SIMILARITY); the language model rewrites the text when Ollama answers."
    )

    def add_arguments(self, parser) -> None:
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--user", type=int, help="only this user id")
        who.add_argument("--all", action="store_true", help="everyone with memories (default)")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would merge; change nothing"
        )

    def handle(self, *args, user: int | None = None, dry_run: bool = False, **options) -> None:
        people = get_user_model().objects.filter(memories__isnull=False).distinct().order_by("pk")
        if user is not None:
            people = get_user_model().objects.filter(pk=user)
            if not people.exists():
                raise CommandError(f"No user with id {user}.")
        reports: list[MergeReport] = []
        bar = tqdm(people, total=people.count(), unit="person", desc="merge", file=self.stderr)
        with bar:
            for person in bar:
                try:
                    reports.append(memories_merge(user=person, dry_run=dry_run))
                except EmbeddingsUnavailable as exc:
                    raise CommandError(f"Can't compare memories: {exc}") from exc
        self._table(reports, dry_run=dry_run)

    def _table(self, reports: list[MergeReport], *, dry_run: bool) -> None:
        verb = "would be merged (dry run: nothing changed)" if dry_run else "merged"
        merged = sum(r.merged for r in reports)
        clusters = sum(len(r.clusters) for r in reports)
        table = Table(title=f"{merged} memories {verb} in {clusters} clusters")
        for column in ("user", "memories", "kept", "folded in", "by", "text"):
            table.add_column(column)
        for report in reports:
            for cluster in report.clusters:
                text = cluster.text if len(cluster.text) <= 70 else cluster.text[:69] + "…"
                merged_ids = ", ".join(map(str, cluster.merged_ids))
                table.add_row(str(report.user_id), str(report.examined), str(cluster.survivor_id),
                              merged_ids, cluster.by, text)  # fmt: skip
        console = Console(file=self.stdout, width=160)
        console.print(table)
        apart = sum(r.kept_apart for r in reports)
        if apart:
            self.stdout.write(f"{apart} look-alike clusters kept apart: the model said they differ")
        for note in sorted({r.llm_note for r in reports if r.llm_note}):
            self.stdout.write(f"Merged by rule (kept the most important text): {note}")
        self.stdout.write(
            f"{len(reports)} people, {sum(r.examined for r in reports)} memories examined, "
            f"{merged} {verb}."
        )
