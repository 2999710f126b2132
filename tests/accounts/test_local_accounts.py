"""Sign-up, sign-in and sign-out with Django's own users (no Supabase configured)."""

import pytest
from django.urls import reverse

from accounts.models import Profile, User
from memory.selectors import memory_space_exists

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase-42"


def sign_up(client, email="ada@example.test", password=PASSWORD, **extra):
    return client.post(reverse("accounts:signup"), {"email": email, "password": password}, **extra)


def test_every_page_requires_sign_in(client):
    for url in (reverse("chat:index"), reverse("memory:index"), reverse("status")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:signin") + "?next=")


def test_sign_up_signs_in_and_allocates_profile_and_collection(client):
    response = sign_up(client)

    assert response.status_code == 302
    assert response.url == reverse("chat:index")
    user = User.objects.get(email="ada@example.test")
    assert int(client.session["_auth_user_id"]) == user.pk
    profile = Profile.objects.get(user=user)
    assert profile.memory_space_ready
    assert memory_space_exists(name=profile.memory_space)
    page = client.get(reverse("chat:index"))
    assert page.status_code == 200
    assert b"ada@example.test" in page.content


def test_sign_up_with_htmx_redirects_the_client(client):
    response = sign_up(client, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("chat:index")


def test_second_sign_up_with_same_email_is_refused(client):
    sign_up(client)
    client.logout()
    response = sign_up(client, email="ADA@example.test")
    assert response.status_code == 200
    assert b"An account with this email already exists" in response.content
    assert User.objects.count() == 1


def test_weak_password_is_refused_inline(client):
    response = sign_up(client, password="12345678")
    assert b"This password is too common" in response.content
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("x" * 250 + "@example.test", PASSWORD, b"at most 254 characters"),
        ("ada@example.test", "p" * 129, b"at most 128 characters"),
        ("not an email", PASSWORD, b"Enter a valid email address"),
        ("", PASSWORD, b"This field is required"),
    ],
)
def test_bad_sign_up_fields_get_inline_errors(client, email, password, message):
    response = sign_up(client, email=email, password=password)
    assert response.status_code == 200
    assert message in response.content
    assert not User.objects.exists()


def test_htmx_form_error_returns_only_the_form(client):
    response = sign_up(client, password="123", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith("<form")
    assert "<html" not in body
    assert "too short" in body


def test_sign_in_with_wrong_password_or_unknown_email_says_so(client):
    sign_up(client)
    client.logout()
    for email, password in (
        ("ada@example.test", "wrong-password-1"),
        ("bob@example.test", PASSWORD),
    ):
        response = client.post(reverse("accounts:signin"), {"email": email, "password": password})
        assert response.status_code == 200
        assert b"Wrong email or password." in response.content
        assert "_auth_user_id" not in client.session


def test_sign_in_then_sign_out(client):
    sign_up(client)
    client.logout()

    response = client.post(
        reverse("accounts:signin"), {"email": " Ada@Example.test ", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session

    response = client.post(reverse("accounts:signout"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:signin")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("chat:index")).status_code == 302


def test_sign_in_follows_a_safe_next_but_not_an_open_redirect(client):
    sign_up(client)
    client.logout()
    data = {"email": "ada@example.test", "password": PASSWORD}

    response = client.post(reverse("accounts:signin"), {**data, "next": "/memory/"})
    assert response.url == "/memory/"
    client.logout()
    response = client.post(reverse("accounts:signin"), {**data, "next": "https://evil.example/"})
    assert response.url == reverse("chat:index")


def test_signed_in_person_visiting_sign_in_goes_to_chat(client):
    sign_up(client)
    response = client.get(reverse("accounts:signin"))
    assert response.status_code == 302
    assert response.url == reverse("chat:index")


def test_api_without_supabase_takes_the_session_but_no_token(client):
    assert client.get("/api/me").status_code == 401
    sign_up(client)  # without Supabase the session is the one way into the API
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.test"
    # A token is judged alone, the session cookie beside it ignored.
    response = client.get("/api/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert "no Supabase Auth configured" in response.json()["detail"]


def test_admin_lists_users_and_profiles(admin_client, client):
    sign_up(client)
    users = admin_client.get(reverse("admin:accounts_user_changelist"))
    profiles = admin_client.get(reverse("admin:accounts_profile_changelist"))
    assert users.status_code == 200
    assert b"ada@example.test" in users.content
    assert profiles.status_code == 200
    assert Profile.objects.get().memory_space.encode() in profiles.content
