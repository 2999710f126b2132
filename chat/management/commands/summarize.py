from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from accounts.models import User
from chat.summaries import summaries_write, summary_day_range, summary_people
from pipo.llm import LLMError


class Command(BaseCommand):
    help = (
        "Summarise each person's conversations of one day into a daily summary and a "
        "`summary` memory. Days from the first message ever stored to yesterday can be "
        "summarised (today is not over yet); running a day again rewrites its summaries."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", help="the day, YYYY-MM-DD (default: yesterday)")
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--user", type=int, help="only this user id")
        who.add_argument("--all", action="store_true", help="everyone who chats (default)")

    def handle(self, *args, **options) -> None:
        day = self._day(options["date"])
        user = options["user"]
        if day is None:
            return
        people = summary_people()
        if user is not None:
            people = User.objects.filter(pk=user)
            if not people.exists():
                raise CommandError(f"No user with id {user}.")
        with tqdm(total=people.count(), unit="person", desc=f"summarise {day}",
                  file=self.stderr) as bar:  # fmt: skip
            try:
                run = summaries_write(day=day, users=people, progress=bar.update)
            except LLMError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{day}: {len(run.written)} summaries written, {len(run.skipped)} people skipped "
            f"(no messages that day), {len(run.failed)} failed."
        )
        if run.failed:
            raise CommandError(
                "No summary for "
                + "; ".join(f"user {pk}: {why}" for pk, why in sorted(run.failed.items()))
                + ". Run it again, or try another model (OLLAMA_MODEL)."
            )

    def _day(self, text: str | None) -> date | None:
        """The day asked for, checked against the days there is something to summarise."""
        wanted = None
        if text is not None:
            try:
                wanted = date.fromisoformat(text.strip())
            except ValueError:
                raise CommandError(
                    f"--date {text!r} is not a date: write it as YYYY-MM-DD, e.g. "
                    f"{timezone.localdate() - timedelta(days=1):%Y-%m-%d}."
                ) from None
        accepted = summary_day_range()
        if accepted is None:
            self.stdout.write("No messages are stored yet: there is nothing to summarise.")
            return None
        first, last = accepted
        wanted = wanted or last
        if first > last:
            raise CommandError(
                f"The first message is from today ({first}); a day can be summarised once it "
                "is over."
            )
        if not first <= wanted <= last:
            raise CommandError(
                f"{wanted} is out of range: days from {first} (the first message) to {last} "
                "(yesterday; today is not over yet) can be summarised."
            )
        return wanted
