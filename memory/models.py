import math

from django.conf import settings
from django.db import models
from django.utils import timezone


class Memory(models.Model):
    """Something PIPO learned about a person. The row is the truth; Chroma mirrors it."""

    class Kind(models.TextChoices):
        FACT = "fact"
        PREFERENCE = "preference"
        EVENT = "event"
        PLAN = "plan"
        RELATIONSHIP = "relationship"
        SUMMARY = "summary"
        OTHER = "other"

    class VectorStatus(models.TextChoices):
        SYNCED = "synced"
        PENDING = "pending"
        FAILED = "failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories"
    )
    text = models.TextField()
    key_text = models.TextField(
        blank=True, help_text="What is indexed (speaker, date, context); rebuilt keys use it."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    importance = models.FloatField(default=0.5, help_text="0 (trivia) to 1 (vital).")
    strength = models.FloatField(
        default=1.0, help_text="S in R = exp(-t/S), in days; grows with each recall."
    )
    access_count = models.PositiveIntegerField(default=0)
    last_accessed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last recalled; t counts from here (or from said_at)."
    )
    source_message_id = models.BigIntegerField(
        null=True, blank=True, help_text="The chat message it came from (chat's id; no FK)."
    )
    source_message_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Every chat message behind it: merged memories and daily summaries.",
    )
    source_label = models.CharField(
        max_length=64, blank=True, help_text="An outside id of the source, e.g. a LoCoMo turn."
    )
    said_at = models.DateTimeField(help_text="When the person said it.")
    speaker = models.CharField(max_length=120, blank=True)
    pinned = models.BooleanField(default=False, help_text="A pinned memory never fades.")
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        help_text="Long-term consolidation folded it into this one (kept for history).",
    )
    vector_status = models.CharField(
        max_length=8, choices=VectorStatus.choices, default=VectorStatus.PENDING
    )
    embedding_model = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user", "source_message_id"]),
            models.Index(fields=["user", "updated_at"]),
            models.Index(fields=["vector_status"]),
        ]

    def __str__(self) -> str:
        return self.text[:80]

    def retention(self, *, now=None) -> float:
        """R = exp(-t / S), t in days since the last recall (or since it was said)."""
        if self.pinned:
            return 1.0
        now = now or timezone.now()
        since = self.last_accessed_at or self.said_at
        days = max((now - since).total_seconds(), 0.0) / 86400
        return math.exp(-days / max(self.strength, 1e-6))


class MemorySpace(models.Model):
    """A person's own Chroma collection, with the embedding model its vectors came from."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memory_space_record"
    )
    collection = models.CharField(max_length=63, unique=True)
    embedding_model = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.collection


class Consolidation(models.Model):
    """That a chat message went through consolidation, and what came of it (idempotency)."""

    class Outcome(models.TextChoices):
        KEPT = "kept"
        REINFORCED = "reinforced"
        SKIPPED = "skipped"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    source_message_id = models.BigIntegerField()
    memory = models.ForeignKey(Memory, null=True, blank=True, on_delete=models.SET_NULL)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    importance = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "source_message_id"], name="one_consolidation_per_message"
            )
        ]

    def __str__(self) -> str:
        return f"message {self.source_message_id}: {self.outcome}"


class Portrait(models.Model):
    """A short, evolving description of the person (MemoryBank's user portrait)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portrait"
    )
    text = models.TextField(blank=True)
    memory_count = models.PositiveIntegerField(
        default=0, help_text="How many memories it was written from."
    )
    model = models.CharField(max_length=100, blank=True, help_text="Empty: written by rules.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Portrait of {self.user}"


class ForgetLog(models.Model):
    """An audit entry for each memory the decay job forgot: what, when, why."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    memory_id = models.BigIntegerField()
    kind = models.CharField(max_length=16)
    importance = models.FloatField()
    strength = models.FloatField()
    retention = models.FloatField()
    reason = models.CharField(max_length=200)
    text = models.TextField(blank=True, help_text="Kept only when PIPO_FORGET_KEEP_TEXT is on.")
    forgotten_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-forgotten_at", "-id"]
        indexes = [models.Index(fields=["user", "-forgotten_at"])]

    def __str__(self) -> str:
        return f"memory {self.memory_id} forgotten: {self.reason}"
