from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from memory.embeddings import EmbeddingsUnavailable
from memory.models import Memory
from memory.services import memory_reindex
from memory.vectors import VectorStoreUnavailable


class Command(BaseCommand):
    help = "Rebuild people's Chroma collections from their memory rows alone."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", type=int, help="only this user id (default: everyone)")

    def handle(self, *args, user: int | None = None, **options) -> None:
        users = get_user_model().objects.filter(memories__isnull=False).distinct()
        if user is not None:
            users = get_user_model().objects.filter(pk=user)
            if not users.exists():
                raise CommandError(f"No user with id {user}.")
        total = Memory.objects.filter(user__in=users).count()
        with tqdm(total=total, unit="memory", desc="reindex", file=self.stderr) as bar:
            for person in users:
                try:
                    memory_reindex(user=person, progress=bar.update)
                except (VectorStoreUnavailable, EmbeddingsUnavailable) as exc:
                    raise CommandError(str(exc)) from exc
        self.stdout.write(f"Reindexed {total} memories of {users.count()} people.")
