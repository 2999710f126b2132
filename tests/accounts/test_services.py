"""Account services: profiles and memory spaces made once, even when sign-ins race."""

import threading
import uuid

import pytest
from django.db import connection

from accounts.models import Profile, User
from accounts.services import profile_ensure, user_sync_from_claims
from accounts.tokens import VerifiedClaims
from memory.selectors import memory_space_exists
from memory.vectors import chroma_client


def claims(sub: uuid.UUID, email: str = "ada@example.test") -> VerifiedClaims:
    return VerifiedClaims(sub=sub, email=email, expires_at=0)


@pytest.mark.django_db
def test_profile_ensure_is_idempotent(django_user_model):
    user = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    first = profile_ensure(user=user)
    second = profile_ensure(user=user)
    assert first.pk == second.pk
    assert first.memory_space == second.memory_space
    assert memory_space_exists(name=first.memory_space)


@pytest.mark.django_db
def test_profile_waits_for_chroma_when_it_is_down(settings, django_user_model):
    user = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    reachable = settings.CHROMA_URL
    settings.CHROMA_URL = "http://127.0.0.1:9"  # nothing listens there

    profile = profile_ensure(user=user)

    assert not profile.memory_space_ready
    settings.CHROMA_URL = reachable
    assert profile_ensure(user=user).memory_space_ready
    assert memory_space_exists(name=profile.memory_space)


@pytest.mark.django_db(transaction=True)
def test_racing_first_sign_ins_make_one_user_one_profile_one_collection():
    sub = uuid.uuid4()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def first_sign_in():
        try:
            barrier.wait()
            user = user_sync_from_claims(claims=claims(sub))
            results.append(profile_ensure(user=user))
        except Exception as exc:  # surfaced below with the thread's error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert User.objects.filter(supabase_id=sub).count() == 1
    assert Profile.objects.count() == 1
    names = {profile.memory_space for profile in results}
    assert len(names) == 1
    collections = [c.name for c in chroma_client().list_collections()]
    assert collections.count(names.pop()) == 1


@pytest.mark.django_db
def test_user_sync_keeps_email_in_step():
    sub = uuid.uuid4()
    user = user_sync_from_claims(claims=claims(sub, "old@example.test"))
    again = user_sync_from_claims(claims=claims(sub, "new@example.test"))
    assert again.pk == user.pk
    again.refresh_from_db()
    assert again.email == "new@example.test"
