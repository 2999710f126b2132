"""Reads of the accounts app."""

from accounts.models import Profile, User


def profile_get(*, user: User) -> Profile | None:
    return Profile.objects.select_related("user").filter(user=user).first()


def persona_get(*, user: User) -> Profile:
    """The person's profile for the persona settings; an unsaved default when there is none."""
    return profile_get(user=user) or Profile(user=user)
