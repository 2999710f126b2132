from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from pipo.status import status_all


class Command(BaseCommand):
    help = "Show which backend each part of PIPO uses, whether it answers, and how fast."

    def handle(self, *args, **options) -> None:
        components = status_all()
        table = Table(title="PIPO status")
        for column in ("part", "backend", "state", "latency"):
            table.add_column(column)
        for component in components:
            mark = "[green]ok[/green]" if component.ok else "[red]down[/red]"
            if component.state == "not configured":
                mark = "[green]ok[/green] (not configured)"
            latency = f"{component.latency_ms:.0f} ms" if component.latency_ms is not None else ""
            table.add_row(component.part, component.backend, f"{mark} {component.detail}", latency)
        Console(file=self.stdout, width=200).print(table)
        if not all(c.ok for c in components):
            raise CommandError("Some parts are not answering: see the state column above.")
