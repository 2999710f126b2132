from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from memory.decay import DecayDecision, memory_decay, memory_decay_preview


class Command(BaseCommand):
    help = "Forget memories whose retention and importance have both faded (pinned ones stay)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would go; change nothing"
        )
        parser.add_argument("--user", type=int, help="only this user id")

    def handle(self, *args, dry_run: bool = False, user: int | None = None, **options) -> None:
        person = None
        if user is not None:
            person = get_user_model().objects.filter(pk=user).first()
            if person is None:
                raise CommandError(f"No user with id {user}.")
        if dry_run:
            decisions = memory_decay_preview(user=person)
            self._table(decisions, "would be forgotten (dry run: nothing changed)")
        else:
            decisions = memory_decay(user=person)
            self._table(decisions, "forgotten")

    def _table(self, decisions: list[DecayDecision], verb: str) -> None:
        table = Table(title=f"{len(decisions)} memories {verb}")
        for column in ("id", "user", "kind", "importance", "strength (days)", "retention", "text"):
            table.add_column(column)
        for d in decisions:
            text = d.text if len(d.text) <= 60 else d.text[:59] + "…"
            table.add_row(str(d.memory_id), str(d.user_id), d.kind, f"{d.importance:.2f}",
                          f"{d.strength:.1f}", f"{d.retention:.3f}", text)  # fmt: skip
        Console(file=self.stdout, width=160).print(table)
