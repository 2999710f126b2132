"""Self-test of the GoTrue fake, driven by the real ``supabase`` client.

Plain sync tests: no Django, no database.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
import supabase
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from .gotrue import GoTrueServer

PASSWORD = "correct-horse-battery"


def make_client(server: GoTrueServer, key: str | None = None) -> supabase.Client:
    return supabase.create_client(
        server.url,
        key or server.anon_key,
        options=supabase.ClientOptions(auto_refresh_token=False, persist_session=False),
    )


@pytest.fixture
def server() -> Iterator[GoTrueServer]:
    with GoTrueServer(alg="ES256") as running:
        yield running


@pytest.fixture
def client(server: GoTrueServer) -> supabase.Client:
    return make_client(server)


def verify_with_jwks(server: GoTrueServer, token: str) -> dict:
    signing_key = jwt.PyJWKClient(server.jwks_url, cache_jwk_set=False).get_signing_key_from_jwt(
        token
    )
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256", "RS256"],
        audience="authenticated",
        issuer=server.issuer,
    )


# --------------------------------------------------------------- lifecycle


def test_start_is_idempotent_and_stop_closes_the_port() -> None:
    gotrue = GoTrueServer()
    with pytest.raises(RuntimeError):
        _ = gotrue.url
    assert gotrue.start() is gotrue
    url = gotrue.url
    assert gotrue.start().url == url  # second start: same server
    assert url.startswith("http://127.0.0.1:")
    assert gotrue.issuer == url + "/auth/v1"
    with httpx.Client() as http:
        assert (
            http.get(gotrue.issuer + "/health", headers={"apikey": gotrue.anon_key}).status_code
            == 200
        )
        gotrue.stop()
        gotrue.stop()  # idempotent
        with pytest.raises(httpx.TransportError):
            http.get(url + "/auth/v1/health", headers={"apikey": gotrue.anon_key})
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


# ------------------------------------------------------------------ signup


def test_sign_up_returns_session_whose_token_verifies_against_jwks(
    server: GoTrueServer, client: supabase.Client
) -> None:
    response = client.auth.sign_up(
        {
            "email": "Ada@Example.com",
            "password": PASSWORD,
            "options": {"data": {"display_name": "Ada"}},
        }
    )

    assert response.session is not None and response.user is not None
    session = response.session
    assert session.token_type == "bearer"
    assert session.expires_in == server.access_token_ttl
    assert session.refresh_token
    assert response.user.email == "ada@example.com"  # GoTrue lowercases emails
    assert response.user.aud == "authenticated"
    assert response.user.role == "authenticated"
    assert response.user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert response.user.user_metadata["display_name"] == "Ada"
    assert response.user.email_confirmed_at is not None

    header = jwt.get_unverified_header(session.access_token)
    assert header["alg"] == "ES256"
    assert header["kid"] == server.kid

    claims = verify_with_jwks(server, session.access_token)
    assert claims["sub"] == response.user.id
    assert claims["email"] == "ada@example.com"
    assert claims["role"] == "authenticated"
    assert claims["iss"] == server.issuer
    assert claims["exp"] - claims["iat"] == server.access_token_ttl
    assert claims["exp"] == session.expires_at
    assert claims["session_id"]

    stored = server.user_by_email("ADA@example.com")
    assert stored is not None and stored["id"] == response.user.id
    assert server.is_refresh_token_active(session.refresh_token)


def test_client_get_user_and_get_claims_round_trip(
    server: GoTrueServer, client: supabase.Client
) -> None:
    session = client.auth.sign_up({"email": "bob@example.com", "password": PASSWORD}).session
    assert session is not None

    user = client.auth.get_user(session.access_token)
    assert user is not None and user.user.email == "bob@example.com"

    # get_claims verifies the signature client-side with the JWKS it fetches (with apikey).
    claims = client.auth.get_claims(jwt=session.access_token)
    assert claims is not None and claims["claims"]["sub"] == user.user.id
    assert server.count("GET", "/.well-known/jwks.json") == 1
    assert server.count("GET", "/auth/v1/user") == 1


def test_duplicate_sign_up_is_user_already_exists(client: supabase.Client) -> None:
    client.auth.sign_up({"email": "dup@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as excinfo:
        client.auth.sign_up({"email": "DUP@example.com", "password": PASSWORD})
    assert excinfo.value.code == "user_already_exists"
    assert excinfo.value.status == 422
    assert excinfo.value.message == "User already registered"


def test_sign_up_validation_errors(client: supabase.Client) -> None:
    with pytest.raises(AuthWeakPasswordError) as weak:
        client.auth.sign_up({"email": "weak@example.com", "password": "12345"})
    assert weak.value.code == "weak_password"
    assert weak.value.status == 422
    assert weak.value.reasons == ["length"]

    with pytest.raises(AuthApiError) as invalid:
        client.auth.sign_up({"email": "not-an-email", "password": PASSWORD})
    assert invalid.value.code == "validation_failed"
    assert invalid.value.status == 400


def test_legacy_error_shape_without_api_version_header(server: GoTrueServer) -> None:
    server.create_user(email="legacy@example.com", password=PASSWORD)
    body = {"email": "legacy@example.com", "password": PASSWORD}
    headers = {"apikey": server.anon_key}
    with httpx.Client() as http:
        legacy = http.post(server.issuer + "/signup", json=body, headers=headers)
        versioned = http.post(
            server.issuer + "/signup",
            json=body,
            headers={**headers, "X-Supabase-Api-Version": "2024-01-01"},
        )
    assert legacy.status_code == 422
    assert legacy.json() == {
        "code": 422,
        "error_code": "user_already_exists",
        "msg": "User already registered",
    }
    assert "X-Supabase-Api-Version" not in legacy.headers
    assert versioned.status_code == 422
    assert versioned.json() == {"code": "user_already_exists", "message": "User already registered"}
    assert versioned.headers["X-Supabase-Api-Version"] == "2024-01-01"


def test_confirm_email_required_sign_up_has_no_session() -> None:
    with GoTrueServer(confirm_email_required=True) as server:
        client = make_client(server)
        response = client.auth.sign_up({"email": "new@example.com", "password": PASSWORD})
        assert response.session is None
        assert response.user is not None
        assert response.user.email == "new@example.com"
        assert response.user.email_confirmed_at is None
        assert response.user.confirmation_sent_at is not None

        with pytest.raises(AuthApiError) as excinfo:
            client.auth.sign_in_with_password({"email": "new@example.com", "password": PASSWORD})
        assert excinfo.value.code == "email_not_confirmed"
        assert excinfo.value.status == 400

        server.confirm_email(email="new@example.com")
        signed_in = client.auth.sign_in_with_password(
            {"email": "new@example.com", "password": PASSWORD}
        )
        assert signed_in.session is not None
        assert signed_in.user is not None and signed_in.user.id == response.user.id


# ----------------------------------------------------------------- sign in


def test_sign_in_with_password(server: GoTrueServer, client: supabase.Client) -> None:
    seeded = server.create_user(email="carol@example.com", password=PASSWORD)
    response = client.auth.sign_in_with_password(
        {"email": "carol@example.com", "password": PASSWORD}
    )
    assert response.session is not None
    assert response.user is not None and response.user.id == seeded["id"]
    assert verify_with_jwks(server, response.session.access_token)["sub"] == seeded["id"]
    assert server.count("POST", "/token?grant_type=password") == 1


def test_wrong_password_and_unknown_email_are_invalid_credentials(
    server: GoTrueServer, client: supabase.Client
) -> None:
    server.create_user(email="dave@example.com", password=PASSWORD)
    for email, password in [
        ("dave@example.com", "wrong-password"),
        ("nobody@example.com", PASSWORD),
    ]:
        with pytest.raises(AuthApiError) as excinfo:
            client.auth.sign_in_with_password({"email": email, "password": password})
        assert excinfo.value.code == "invalid_credentials"
        assert excinfo.value.status == 400
        assert excinfo.value.message == "Invalid login credentials"


# ----------------------------------------------------------------- refresh


def test_refresh_rotates_and_revokes_the_old_refresh_token(
    server: GoTrueServer, client: supabase.Client
) -> None:
    first = client.auth.sign_up({"email": "erin@example.com", "password": PASSWORD}).session
    assert first is not None
    time.sleep(1.1)  # so the new access token has a different iat/exp

    refreshed = client.auth.refresh_session(first.refresh_token).session
    assert refreshed is not None
    assert refreshed.refresh_token != first.refresh_token
    assert refreshed.access_token != first.access_token
    new_claims = verify_with_jwks(server, refreshed.access_token)
    old_claims = verify_with_jwks(server, first.access_token)
    assert new_claims["sub"] == old_claims["sub"]
    assert new_claims["session_id"] == old_claims["session_id"]
    assert new_claims["exp"] > old_claims["exp"]
    assert not server.is_refresh_token_active(first.refresh_token)
    assert server.is_refresh_token_active(refreshed.refresh_token)

    with pytest.raises(AuthApiError) as excinfo:
        client.auth.refresh_session(first.refresh_token)
    assert excinfo.value.code == "refresh_token_already_used"
    assert excinfo.value.status == 400
    # Reuse detection revokes the whole family, like GoTrue.
    assert not server.is_refresh_token_active(refreshed.refresh_token)
    assert server.count("POST", "/token?grant_type=refresh_token") == 2


def test_unknown_refresh_token_is_not_found(client: supabase.Client) -> None:
    with pytest.raises(AuthApiError) as excinfo:
        client.auth.refresh_session("no-such-token")
    assert excinfo.value.code == "refresh_token_not_found"
    assert excinfo.value.status == 400


def test_short_access_token_ttl_expires(server: GoTrueServer, client: supabase.Client) -> None:
    server.access_token_ttl = 1
    session = client.auth.sign_up({"email": "ttl@example.com", "password": PASSWORD}).session
    assert session is not None and session.expires_in == 1
    assert client.auth.get_user(session.access_token) is not None
    time.sleep(2.1)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_with_jwks(server, session.access_token)
    with pytest.raises(AuthApiError) as excinfo:
        client.auth.get_user(session.access_token)
    assert excinfo.value.code == "bad_jwt"
    assert excinfo.value.status == 401


# ------------------------------------------------------------------ logout


def test_admin_sign_out_local_revokes_only_that_session(
    server: GoTrueServer, client: supabase.Client
) -> None:
    server.create_user(email="frank@example.com", password=PASSWORD)
    credentials = {"email": "frank@example.com", "password": PASSWORD}
    laptop = client.auth.sign_in_with_password(credentials).session
    phone = client.auth.sign_in_with_password(credentials).session
    assert laptop is not None and phone is not None

    client.auth.admin.sign_out(laptop.access_token, "local")

    assert not server.is_refresh_token_active(laptop.refresh_token)
    assert server.is_refresh_token_active(phone.refresh_token)
    with pytest.raises(AuthApiError) as excinfo:
        client.auth.refresh_session(laptop.refresh_token)
    assert excinfo.value.code == "refresh_token_not_found"
    # The ended session's access token no longer identifies a session server-side.
    with pytest.raises(AuthApiError) as gone:
        client.auth.get_user(laptop.access_token)
    assert gone.value.code == "session_not_found"
    assert client.auth.get_user(phone.access_token) is not None
    assert client.auth.refresh_session(phone.refresh_token).session is not None
    assert server.count("POST", "/logout?scope=local") == 1


def test_admin_sign_out_global_revokes_every_session(
    server: GoTrueServer, client: supabase.Client
) -> None:
    server.create_user(email="gina@example.com", password=PASSWORD)
    server.create_user(email="other@example.com", password=PASSWORD)
    credentials = {"email": "gina@example.com", "password": PASSWORD}
    one = client.auth.sign_in_with_password(credentials).session
    two = client.auth.sign_in_with_password(credentials).session
    bystander = client.auth.sign_in_with_password(
        {"email": "other@example.com", "password": PASSWORD}
    ).session
    assert one is not None and two is not None and bystander is not None

    client.auth.admin.sign_out(one.access_token, "global")

    assert not server.is_refresh_token_active(one.refresh_token)
    assert not server.is_refresh_token_active(two.refresh_token)
    assert server.is_refresh_token_active(bystander.refresh_token)


def test_admin_sign_out_others_keeps_the_current_session(
    server: GoTrueServer, client: supabase.Client
) -> None:
    server.create_user(email="hank@example.com", password=PASSWORD)
    credentials = {"email": "hank@example.com", "password": PASSWORD}
    current = client.auth.sign_in_with_password(credentials).session
    other = client.auth.sign_in_with_password(credentials).session
    assert current is not None and other is not None

    client.auth.admin.sign_out(current.access_token, "others")

    assert server.is_refresh_token_active(current.refresh_token)
    assert not server.is_refresh_token_active(other.refresh_token)


def test_sign_out_with_invalid_jwt_is_401(server: GoTrueServer, client: supabase.Client) -> None:
    with pytest.raises(AuthApiError) as excinfo:
        client.auth.admin.sign_out(server.mint_token(key="foreign"), "global")
    assert excinfo.value.status == 401
    assert excinfo.value.code == "bad_jwt"


# ---------------------------------------------------------------- HS256 mode


def test_hs256_mode_tokens_verify_with_the_secret() -> None:
    secret = "a-different-secret-that-is-32-bytes-long"
    with GoTrueServer(alg="HS256", jwt_secret=secret) as server:
        client = make_client(server)
        session = client.auth.sign_up({"email": "ivy@example.com", "password": PASSWORD}).session
        assert session is not None

        header = jwt.get_unverified_header(session.access_token)
        assert header["alg"] == "HS256"
        assert "kid" not in header
        claims = jwt.decode(
            session.access_token,
            secret,
            algorithms=["HS256"],
            audience="authenticated",
            issuer=server.issuer,
        )
        assert claims["email"] == "ivy@example.com"
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(
                session.access_token,
                "wrong-secret-wrong-secret-wrong-secret",
                algorithms=["HS256"],
                audience="authenticated",
            )

        assert httpx.get(server.jwks_url).json() == {"keys": []}
        assert server.kid is None
        with pytest.raises(RuntimeError):
            server.rotate_signing_key()
        # HS256 get_claims falls back to GET /user on the server.
        assert client.auth.get_claims(jwt=session.access_token) is not None
        assert server.count("GET", "/user") == 1


# -------------------------------------------------------------- key rotation


def test_rotate_signing_key_publishes_a_new_kid(
    server: GoTrueServer, client: supabase.Client
) -> None:
    old_kid = server.kid
    before = client.auth.sign_up({"email": "jack@example.com", "password": PASSWORD}).session
    assert before is not None

    new_kid = server.rotate_signing_key()

    assert new_kid != old_kid
    assert server.kid == new_kid
    published = httpx.get(server.jwks_url).json()["keys"]
    assert {key["kid"] for key in published} == {old_kid, new_kid}
    for key in published:
        assert (
            key["alg"] == "ES256"
            and key["use"] == "sig"
            and key["kty"] == "EC"
            and key["crv"] == "P-256"
        )
        assert "d" not in key  # no private material

    after = client.auth.sign_in_with_password(
        {"email": "jack@example.com", "password": PASSWORD}
    ).session
    assert after is not None
    assert jwt.get_unverified_header(after.access_token)["kid"] == new_kid
    assert verify_with_jwks(server, after.access_token)["email"] == "jack@example.com"
    # Tokens signed with the previous key still verify while it stays published.
    assert verify_with_jwks(server, before.access_token)["email"] == "jack@example.com"
    assert client.auth.get_user(before.access_token) is not None

    server.revoke_signing_key(old_kid)
    assert [key["kid"] for key in httpx.get(server.jwks_url).json()["keys"]] == [new_kid]
    with pytest.raises(AuthApiError) as excinfo:
        client.auth.get_user(before.access_token)
    assert excinfo.value.code == "bad_jwt"


def test_rs256_mode() -> None:
    with GoTrueServer(alg="RS256") as server:
        session = (
            make_client(server)
            .auth.sign_up({"email": "kim@example.com", "password": PASSWORD})
            .session
        )
        assert session is not None
        assert jwt.get_unverified_header(session.access_token)["alg"] == "RS256"
        assert verify_with_jwks(server, session.access_token)["email"] == "kim@example.com"
        assert httpx.get(server.jwks_url).json()["keys"][0]["kty"] == "RSA"


# ------------------------------------------------------------- mint_token


def test_mint_token_variants(server: GoTrueServer, client: supabase.Client) -> None:
    user = server.create_user(email="lee@example.com", password=PASSWORD)

    good = server.mint_token(sub=user["id"])
    assert verify_with_jwks(server, good)["email"] == "lee@example.com"
    assert client.auth.get_user(good) is not None

    expired = server.mint_token(sub=user["id"], claims_overrides={"exp": int(time.time()) - 60})
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_with_jwks(server, expired)

    not_yet = server.mint_token(claims_overrides={"nbf": int(time.time()) + 600})
    with pytest.raises(jwt.ImmatureSignatureError):
        verify_with_jwks(server, not_yet)

    with pytest.raises(jwt.InvalidAudienceError):
        verify_with_jwks(server, server.mint_token(claims_overrides={"aud": "anon"}))
    with pytest.raises(jwt.InvalidIssuerError):
        verify_with_jwks(
            server, server.mint_token(claims_overrides={"iss": "https://evil.example/auth/v1"})
        )

    no_sub = server.mint_token(drop_claims=("sub",))
    assert "sub" not in jwt.decode(no_sub, options={"verify_signature": False})
    with pytest.raises(AuthApiError) as missing_sub:
        client.auth.get_user(no_sub)
    assert missing_sub.value.code == "bad_jwt"

    with pytest.raises(jwt.PyJWKClientError):
        verify_with_jwks(server, server.mint_token(headers_overrides={"kid": "unknown-kid"}))

    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_jwks(server, server.mint_token(key="foreign"))

    # Alg confusion: HS256 keyed with the public PEM must not be accepted anywhere.
    confused = server.mint_token(sub=user["id"], key="public_pem_hmac")
    assert jwt.get_unverified_header(confused)["alg"] == "HS256"
    assert server.public_key_pem().startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(jwt.PyJWTError):
        verify_with_jwks(server, confused)
    with pytest.raises(AuthApiError):
        client.auth.get_user(confused)

    unsigned = server.mint_token(sub=user["id"], key="none")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    with pytest.raises(AuthApiError):
        client.auth.get_user(unsigned)

    # The legacy shared secret is still honoured by the server (no kid, HS256).
    legacy = server.mint_token(sub=user["id"], key="secret")
    assert "kid" not in jwt.get_unverified_header(legacy)
    assert client.auth.get_user(legacy) is not None


def test_previous_key_tokens(server: GoTrueServer) -> None:
    with pytest.raises(ValueError):
        server.mint_token(key="previous")
    old_kid = server.kid
    server.rotate_signing_key()
    token = server.mint_token(key="previous")
    assert jwt.get_unverified_header(token)["kid"] == old_kid
    assert verify_with_jwks(server, token)["aud"] == "authenticated"


# ------------------------------------------------------- gateway behaviour


def test_missing_or_wrong_apikey_is_401(server: GoTrueServer) -> None:
    body = {"email": "x@example.com", "password": PASSWORD}
    with httpx.Client() as http:
        missing = http.post(server.issuer + "/signup", json=body)
        wrong = http.post(server.issuer + "/signup", json=body, headers={"apikey": "nope"})
        jwks = http.get(server.jwks_url)  # public, like Supabase's
    assert missing.status_code == 401
    assert missing.json() == {"message": "No API key found in request"}
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "Invalid API key"}
    assert jwks.status_code == 200
    assert server.user_by_email("x@example.com") is None

    with pytest.raises(AuthApiError) as excinfo:
        make_client(server, key="not-the-anon-key").auth.sign_up(body)
    assert excinfo.value.status == 401
    assert server.user_by_email("x@example.com") is None


def test_unknown_paths_are_404_json(server: GoTrueServer) -> None:
    headers = {"apikey": server.anon_key}
    with httpx.Client() as http:
        unknown = http.get(server.issuer + "/nope", headers=headers)
        outside = http.get(server.url + "/rest/v1/things", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "not_found"
    assert outside.status_code == 404
    assert outside.json() == {"message": "no Route matched with those values"}
    assert ("GET", "/auth/v1/nope") in server.request_log
    assert server.count("GET", "/rest/v1/") == 1


def test_get_user_without_bearer_is_no_authorization(server: GoTrueServer) -> None:
    response = httpx.get(
        server.issuer + "/user",
        headers={"apikey": server.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "no_authorization"


def test_update_user_metadata_and_password(server: GoTrueServer, client: supabase.Client) -> None:
    session = client.auth.sign_up({"email": "mo@example.com", "password": PASSWORD}).session
    assert session is not None
    client.auth.set_session(session.access_token, session.refresh_token)
    updated = client.auth.update_user({"data": {"nickname": "Mo"}, "password": "another-password"})
    assert updated.user.user_metadata["nickname"] == "Mo"
    with pytest.raises(AuthApiError):
        client.auth.sign_in_with_password({"email": "mo@example.com", "password": PASSWORD})
    assert client.auth.sign_in_with_password(
        {"email": "mo@example.com", "password": "another-password"}
    ).session
