import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


def _memory_space_name() -> str:
    # Random rather than derived from the user id: a fresh database must never hand an old
    # collection (someone else's memories) to a new person whose id happens to match.
    return f"pipo-{uuid.uuid4().hex}"


class User(AbstractUser):
    """A person. In Supabase mode `supabase_id` is the verified token's `sub`."""

    email = models.EmailField("email address", max_length=254)
    supabase_id = models.UUIDField(unique=True, null=True, blank=True, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.email or self.username


class Profile(models.Model):
    """One per person, created by `profile_ensure` at first sign-in (not by a signal)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    assistant_name = models.CharField(max_length=60, default="PIPO")
    traits = models.JSONField(
        default=list, blank=True, help_text="Persona traits, e.g. ['warm', 'concise']."
    )
    tone = models.CharField(
        max_length=60, blank=True, help_text="How the assistant sounds, e.g. 'friendly'."
    )
    instructions = models.TextField(
        "custom instructions",
        max_length=2000,
        blank=True,
        help_text="The person's own standing instructions for the assistant.",
    )
    memory_space = models.CharField(
        "Chroma collection",
        max_length=63,
        unique=True,
        default=_memory_space_name,
        editable=False,
    )
    memory_space_ready = models.BooleanField(
        default=False, help_text="False until the Chroma collection has been created."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"
