"""Local verification of Supabase access tokens: every forged or stale token is refused."""

import time

import pytest

from accounts.errors import AccessTokenInvalid, AuthServiceUnavailable
from accounts.models import User
from accounts.tokens import access_token_verify

pytestmark = pytest.mark.django_db

# (how the token is made, the reason PIPO must give)
BAD_TOKENS = {
    "expired": (
        {"claims_overrides": {"exp": int(time.time()) - 60, "iat": int(time.time()) - 3660}},
        "it has expired",
    ),
    "not_yet_valid": ({"claims_overrides": {"nbf": int(time.time()) + 600}}, "not valid yet"),
    "other_audience": ({"claims_overrides": {"aud": "anon"}}, "another audience"),
    "other_issuer": (
        {"claims_overrides": {"iss": "https://evil.example/auth/v1"}},
        "another issuer",
    ),
    "badly_signed": ({"key": "foreign"}, "signature does not verify"),
    "alg_none": ({"key": "none"}, "algorithm 'none' is not accepted"),
    "hs256_with_public_key": ({"key": "public_pem_hmac"}, "HS256 tokens are not accepted"),
    "unknown_kid": ({"headers_overrides": {"kid": "no-such-key"}}, "unknown key"),
    "no_sub": ({"drop_claims": ("sub",)}, "no sub claim"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_token_is_refused_with_its_reason(supabase, client, case):
    how, reason = BAD_TOKENS[case]
    token = supabase.mint_token(**how)

    with pytest.raises(AccessTokenInvalid) as refused:
        access_token_verify(token=token)
    assert reason in refused.value.message

    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert reason in response.json()["detail"]
    assert "_auth_user_id" not in client.session
    assert not User.objects.exists()


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "", "e30.e30.e30"])
def test_malformed_token_is_refused(supabase, garbage):
    with pytest.raises(AccessTokenInvalid) as refused:
        access_token_verify(token=garbage)
    assert "malformed" in refused.value.message or "not accepted" in refused.value.message


def test_sub_must_be_a_user_id(supabase):
    token = supabase.mint_token(sub="not-a-uuid")
    with pytest.raises(AccessTokenInvalid, match="not a user id"):
        access_token_verify(token=token)


def test_valid_es256_token_yields_its_claims(supabase):
    user = supabase.create_user(email="ada@example.test", password="correct horse 1")
    claims = access_token_verify(token=supabase.mint_token(sub=user["id"]))
    assert str(claims.sub) == user["id"]
    assert claims.email == "ada@example.test"
    assert claims.expires_at > time.time()


def test_hs256_token_verifies_with_the_jwt_secret(settings, supabase_any_alg):
    server = supabase_any_alg
    token = server.mint_token()
    assert access_token_verify(token=token).sub is not None
    if server.alg == "HS256":
        settings.SUPABASE_JWT_SECRET = "another-secret-that-is-at-least-32-bytes"
        with pytest.raises(AccessTokenInvalid, match="signature does not verify"):
            access_token_verify(token=token)


def test_rotated_key_is_fetched_once_on_unknown_kid(supabase):
    access_token_verify(token=supabase.mint_token())
    fetches = supabase.count("GET", "/.well-known/jwks.json")
    supabase.rotate_signing_key()

    access_token_verify(token=supabase.mint_token())
    access_token_verify(token=supabase.mint_token())

    assert supabase.count("GET", "/.well-known/jwks.json") == fetches + 1


def test_unknown_kids_do_not_refetch_within_the_cooldown(settings, supabase):
    settings.SUPABASE_JWKS_COOLDOWN_SECONDS = 300
    access_token_verify(token=supabase.mint_token())
    fetches = supabase.count("GET", "/.well-known/jwks.json")
    for n in range(5):
        with pytest.raises(AccessTokenInvalid, match="unknown key"):
            access_token_verify(
                token=supabase.mint_token(headers_overrides={"kid": f"made-up-{n}"})
            )
    assert supabase.count("GET", "/.well-known/jwks.json") == fetches


def test_jwks_unreachable_is_a_service_error_not_a_bad_token(supabase):
    token = supabase.mint_token()
    supabase.stop()
    with pytest.raises(AuthServiceUnavailable):
        access_token_verify(token=token)
