from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from pipo.status import status_all


class Command(BaseCommand):
    help = "Show which backend each part of PIPO uses and whether it answers."

    def handle(self, *args, **options) -> None:
        components = status_all()
        table = Table(title="PIPO status")
        for column in ("part", "backend", "state"):
            table.add_column(column)
        for component in components:
            mark = "[green]ok[/green]" if component.ok else "[red]down[/red]"
            table.add_row(component.part, component.backend, f"{mark} {component.detail}")
        Console(file=self.stdout, width=160).print(table)
        if not all(c.ok for c in components):
            raise CommandError("Some parts are not answering: see the state column above.")
