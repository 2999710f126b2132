"""The JSON API: a Supabase bearer token or a JSON error, never a page."""

import pytest

from accounts.models import Profile, User

pytestmark = pytest.mark.django_db


def test_me_with_a_valid_token_creates_the_user_once(client, supabase):
    remote = supabase.create_user(email="ada@example.test", password="a-long-passphrase-42")
    token = supabase.mint_token(sub=remote["id"])

    for _ in range(2):
        response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        body = response.json()
        assert body["email"] == "ada@example.test"
        assert body["supabase_id"] == remote["id"]
        assert body["assistant_name"] == "PIPO"

    assert User.objects.count() == 1
    assert Profile.objects.count() == 1


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_missing_or_non_bearer_authorization_is_a_json_401(client, supabase, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "invalid_request"


def test_unknown_api_path_without_token_is_401_not_a_sign_in_redirect(client, supabase):
    response = client.get("/api/nothing-here")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"


def test_auth_service_down_is_a_json_503(client, supabase):
    token = supabase.mint_token()
    supabase.stop()
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json() == {
        "error": "auth_unavailable",
        "detail": "The sign-in service is unavailable. Please try again in a minute.",
    }


def test_bearer_api_post_needs_no_csrf_token(supabase):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    token = supabase.mint_token()
    response = strict.post("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405  # reached the view: CSRF did not refuse it
