"""Sign-up, sign-in, refresh and sign-out through Supabase Auth (the GoTrue stand-in)."""

import time

import httpx
import pytest
from django.urls import reverse

from accounts.models import Profile, User
from accounts.services import SUPABASE_SESSION_KEY

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase-42"


def sign_up(client, email="ada@example.test", password=PASSWORD, **extra):
    return client.post(reverse("accounts:signup"), {"email": email, "password": password}, **extra)


def sign_in(client, email="ada@example.test", password=PASSWORD, **extra):
    return client.post(reverse("accounts:signin"), {"email": email, "password": password}, **extra)


def test_sign_up_bridges_the_supabase_user_to_a_django_session(client, supabase_any_alg):
    server = supabase_any_alg
    response = sign_up(client)

    assert response.status_code == 302
    remote = server.user_by_email("ada@example.test")
    user = User.objects.get(supabase_id=remote["id"])
    assert user.email == "ada@example.test"
    assert int(client.session["_auth_user_id"]) == user.pk
    tokens = client.session[SUPABASE_SESSION_KEY]
    assert server.is_refresh_token_active(tokens["refresh_token"])
    # The tokens stay server-side: the browser only holds Django's session id.
    assert set(client.cookies) == {"sessionid"} | ({"csrftoken"} & set(client.cookies))
    assert Profile.objects.filter(user=user, memory_space_ready=True).count() == 1


def test_sign_up_needing_email_confirmation_says_so(client, supabase):
    supabase.confirm_email_required = True
    response = sign_up(client)
    assert response.status_code == 200
    assert b"Check your email." in response.content
    assert b"ada@example.test" in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.exists()

    response = sign_in(client)
    assert b"Please confirm your email first" in response.content
    supabase.confirm_email(email="ada@example.test")
    assert sign_in(client).status_code == 302


def test_second_sign_up_with_same_email_is_refused(client, supabase):
    supabase.create_user(email="ada@example.test", password=PASSWORD)
    response = sign_up(client)
    assert b"An account with this email already exists" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_in_maps_the_same_sub_to_the_same_user_and_keeps_email_in_step(client, supabase):
    remote = supabase.create_user(email="ada@example.test", password=PASSWORD)
    assert sign_in(client).status_code == 302
    client.post(reverse("accounts:signout"))
    user = User.objects.get()
    user.email = "old@example.test"
    user.save()

    assert sign_in(client).status_code == 302

    assert User.objects.count() == 1
    user.refresh_from_db()
    assert str(user.supabase_id) == remote["id"]
    assert user.email == "ada@example.test"
    assert Profile.objects.count() == 1


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.test", "wrong-password-1"), ("nobody@example.test", PASSWORD)],
)
def test_wrong_password_or_unknown_email_says_so(client, supabase, email, password):
    supabase.create_user(email="ada@example.test", password=PASSWORD)
    response = sign_in(client, email=email, password=password)
    assert response.status_code == 200
    assert b"Wrong email or password." in response.content
    assert "_auth_user_id" not in client.session


def test_a_token_pipo_cannot_verify_makes_no_session_and_no_user(client, settings, supabase):
    supabase.create_user(email="ada@example.test", password=PASSWORD)
    settings.SUPABASE_JWT_ISSUER = "https://elsewhere.example/auth/v1"
    response = sign_in(client)
    assert response.status_code == 200
    assert b"The access token was refused: it was issued by another issuer." in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.exists()


def test_supabase_unreachable_is_a_clear_503_on_the_form(client, supabase):
    supabase.stop()
    for response in (sign_in(client), sign_up(client)):
        assert response.status_code == 503
        assert b"The sign-in service is unavailable" in response.content
    assert not User.objects.exists()


def test_expired_access_token_is_refreshed_unnoticed(client, supabase):
    sign_up(client)
    old = client.session[SUPABASE_SESSION_KEY]
    session = client.session
    session[SUPABASE_SESSION_KEY] = {**old, "expires_at": int(time.time()) - 5}
    session.save()

    response = client.get(reverse("chat:index"))

    assert response.status_code == 200
    fresh = client.session[SUPABASE_SESSION_KEY]
    assert fresh["access_token"] != old["access_token"]
    assert fresh["expires_at"] > time.time()
    assert supabase.is_refresh_token_active(fresh["refresh_token"])
    assert not supabase.is_refresh_token_active(old["refresh_token"])
    assert supabase.count("POST", "/token?grant_type=refresh_token") == 1


def test_fresh_access_token_is_not_refreshed(client, supabase):
    sign_up(client)
    client.get(reverse("chat:index"))
    assert supabase.count("POST", "/token?grant_type=refresh_token") == 0


def test_revoked_refresh_token_ends_the_django_session(client, supabase):
    sign_up(client)
    tokens = client.session[SUPABASE_SESSION_KEY]
    # Revoke from "another device": Supabase's global sign-out.
    httpx.post(
        f"{supabase.issuer}/logout?scope=global",
        headers={"apikey": supabase.anon_key, "Authorization": f"Bearer {tokens['access_token']}"},
    ).raise_for_status()
    session = client.session
    session[SUPABASE_SESSION_KEY] = {**tokens, "expires_at": int(time.time()) - 5}
    session.save()

    response = client.get(reverse("chat:index"))

    assert response.status_code == 302
    assert response.url == reverse("accounts:signin")
    assert "_auth_user_id" not in client.session
    page = client.get(response.url)
    assert b"Your session has ended. Please sign in again." in page.content


def test_refresh_while_supabase_is_down_keeps_the_person_signed_in(client, supabase):
    sign_up(client)
    tokens = client.session[SUPABASE_SESSION_KEY]
    session = client.session
    session[SUPABASE_SESSION_KEY] = {**tokens, "expires_at": int(time.time()) - 5}
    session.save()
    supabase.stop()

    response = client.get(reverse("chat:index"))

    assert response.status_code == 200
    assert client.session[SUPABASE_SESSION_KEY]["refresh_token"] == tokens["refresh_token"]


def test_sign_out_revokes_at_supabase_and_flushes_the_session(client, supabase):
    sign_up(client)
    tokens = client.session[SUPABASE_SESSION_KEY]

    response = client.post(reverse("accounts:signout"))

    assert response.status_code == 302
    assert supabase.count("POST", "/logout") == 1
    assert not supabase.is_refresh_token_active(tokens["refresh_token"])
    assert "_auth_user_id" not in client.session
    assert SUPABASE_SESSION_KEY not in client.session


def test_sign_out_with_expired_access_token_refreshes_then_revokes(client, supabase):
    sign_up(client)
    tokens = client.session[SUPABASE_SESSION_KEY]
    session = client.session
    session[SUPABASE_SESSION_KEY] = {**tokens, "expires_at": int(time.time()) - 5}
    session.save()
    # The middleware would refresh first; sign-out must work even when it could not.
    client.post(reverse("accounts:signout"))
    assert supabase.count("POST", "/logout") == 1
    assert not supabase.is_refresh_token_active(tokens["refresh_token"])
    assert "_auth_user_id" not in client.session


def test_sign_out_while_supabase_is_down_still_signs_out(client, supabase):
    sign_up(client)
    supabase.stop()
    response = client.post(reverse("accounts:signout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
