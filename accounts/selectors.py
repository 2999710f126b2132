"""Reads of the accounts app."""

from accounts.models import Profile, User


def profile_get(*, user: User) -> Profile | None:
    return Profile.objects.select_related("user").filter(user=user).first()
