from django.conf import settings
from django.db import models
from django.urls import reverse


class Conversation(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=120, blank=True)
    temporary = models.BooleanField(
        default=False,
        help_text="A temporary chat neither recalls nor forms memories.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("chat:room", args=[self.pk])


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        STREAMING = "streaming"
        STOPPED = "stopped"
        FAILED = "failed"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    error = models.TextField(blank=True, help_text="What went wrong, in words for the person.")
    model = models.CharField(max_length=100, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    reply_tokens = models.PositiveIntegerField(null=True, blank=True)
    first_token_ms = models.PositiveIntegerField("time to first token (ms)", null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    recalled = models.JSONField(
        default=list, blank=True, help_text="The memories recalled for this reply, with scores."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

    @property
    def tokens_per_second(self) -> float | None:
        if not self.reply_tokens or not self.duration_ms:
            return None
        generating_ms = self.duration_ms - (self.first_token_ms or 0)
        return self.reply_tokens / (max(generating_ms, 1) / 1000)


class DailySummary(models.Model):
    """What a person talked about on one day, written by the LLM (`manage.py summarize`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_summaries"
    )
    day = models.DateField()
    text = models.TextField()
    message_ids = models.JSONField(default=list, help_text="The messages it summarises.")
    conversation_count = models.PositiveIntegerField(default=0)
    memory_id = models.BigIntegerField(
        null=True, blank=True, help_text="The `summary` memory made from it (memory's id)."
    )
    model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="one_summary_per_person_day")
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.day}"
