"""Local verification of Supabase access tokens with PyJWT.

Never trust Supabase's `get_claims` here: it checks neither `aud` nor `iss` (DESIGN §7).
HS256 tokens verify with the project's JWT secret; ES256/RS256 tokens with the public
keys from the project's JWKS endpoint, cached, and fetched again when a token names a key
id PIPO has not seen (key rotation).
"""

import threading
import uuid
from dataclasses import dataclass

import jwt
from django.conf import settings

from accounts.errors import AccessTokenInvalid, AuthServiceUnavailable

ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")


@dataclass(frozen=True)
class VerifiedClaims:
    sub: uuid.UUID
    email: str
    expires_at: int


_jwks_lock = threading.Lock()
_jwks_clients: dict[str, jwt.PyJWKClient] = {}


def _jwks_client() -> jwt.PyJWKClient:
    url = settings.SUPABASE_JWKS_URL
    with _jwks_lock:
        if url not in _jwks_clients:
            _jwks_clients[url] = jwt.PyJWKClient(
                url,
                lifespan=settings.SUPABASE_JWKS_CACHE_SECONDS,
                # An unknown kid refetches the set (key rotation), but at most once per
                # cooldown, so made-up key ids cannot turn PIPO into a request amplifier.
                cooldown_duration=settings.SUPABASE_JWKS_COOLDOWN_SECONDS,
                headers={"apikey": settings.SUPABASE_ANON_KEY},
                timeout=settings.SUPABASE_TIMEOUT_SECONDS,
            )
        return _jwks_clients[url]


def jwks_cache_clear() -> None:
    with _jwks_lock:
        _jwks_clients.clear()


def _signing_key(kid: str) -> jwt.PyJWK:
    try:
        return _jwks_client().get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as exc:
        raise AuthServiceUnavailable(f"JWKS fetch failed: {exc}") from exc
    except jwt.PyJWKSetError as exc:
        raise AccessTokenInvalid("the project publishes no usable signing keys") from exc
    except jwt.PyJWKClientError as exc:
        raise AccessTokenInvalid("it is signed by an unknown key") from exc


def _key_and_algorithm(header: dict) -> tuple[object, str]:
    alg = header.get("alg")
    if alg == "HS256":
        if not settings.SUPABASE_JWT_SECRET:
            raise AccessTokenInvalid("HS256 tokens are not accepted: this project signs with keys")
        return settings.SUPABASE_JWT_SECRET, "HS256"
    if alg in ASYMMETRIC_ALGORITHMS:
        if not settings.SUPABASE_JWKS_URL:
            raise AccessTokenInvalid(f"{alg} tokens are not accepted: no JWKS is configured")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AccessTokenInvalid("it names no signing key (kid)")
        key = _signing_key(kid)
        # The key decides the algorithm, never the token: stops algorithm substitution.
        if key.algorithm_name != alg:
            raise AccessTokenInvalid("its algorithm does not match its signing key")
        return key.key, alg
    raise AccessTokenInvalid(f"the algorithm {alg!r} is not accepted")


def access_token_verify(*, token: str) -> VerifiedClaims:
    """Check signature, exp, nbf, aud, iss and sub; raise AccessTokenInvalid with the reason."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise AccessTokenInvalid("it is malformed") from exc
    key, alg = _key_and_algorithm(header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=settings.SUPABASE_JWT_AUDIENCE,
            issuer=settings.SUPABASE_JWT_ISSUER,
            leeway=settings.SUPABASE_JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AccessTokenInvalid("it has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise AccessTokenInvalid("it is not valid yet") from exc
    except jwt.InvalidAudienceError as exc:
        raise AccessTokenInvalid("it was issued for another audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise AccessTokenInvalid("it was issued by another issuer") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AccessTokenInvalid(f"it has no {exc.claim} claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise AccessTokenInvalid("its signature does not verify") from exc
    except jwt.InvalidTokenError as exc:
        raise AccessTokenInvalid("it is invalid") from exc
    try:
        sub = uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise AccessTokenInvalid("its sub claim is not a user id") from exc
    return VerifiedClaims(
        sub=sub, email=str(claims.get("email") or ""), expires_at=int(claims["exp"])
    )
