"""A small, real HTTP fake of Supabase Auth (GoTrue) for tests.

``GoTrueServer`` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (free
port) in a daemon thread and speaks GoTrue's wire protocol under
``/auth/v1/``, so the real ``supabase`` client works against it::

    with GoTrueServer(alg="ES256") as server:
        client = supabase.create_client(server.url, server.anon_key, options=...)
        client.auth.sign_up({"email": "a@example.com", "password": "secret123"})

What it mirrors from the real service (supabase/auth + the Kong gateway):

* every request under ``/auth/v1`` needs an ``apikey`` header equal to the anon
  key (401 ``{"message": ...}`` like Kong), except the public JWKS endpoint;
* error bodies follow GoTrue's ``HandleResponseError``: when the request sends
  ``X-Supabase-Api-Version: 2024-01-01`` (the Python client always does) the
  body is ``{"code": "<error_code>", "message": "..."}`` and the header is
  echoed back; otherwise the legacy ``{"code": <status>, "error_code": "...",
  "msg": "..."}`` shape is used;
* access tokens are real signed JWTs (HS256 with a shared secret and no
  ``kid``, or ES256 / RS256 with a ``kid`` published in the JWKS), carrying the
  same claims as GoTrue's (``aud``, ``exp``, ``iat``, ``iss``, ``sub``,
  ``email``, ``phone``, ``app_metadata``, ``user_metadata``, ``role``, ``aal``,
  ``amr``, ``session_id``, ``is_anonymous``);
* refresh tokens rotate: the used one is revoked; presenting a revoked one
  again answers ``refresh_token_already_used`` and revokes its whole session
  family (GoTrue's reuse detection, with a reuse interval of 0 s);
* logout deletes sessions (``local`` / ``others`` / ``global``), after which
  their refresh tokens are ``refresh_token_not_found`` and access tokens that
  carry their ``session_id`` answer ``session_not_found`` on ``/user``.

Deliberate simplifications: email is the only provider, confirmation emails
are not sent (use ``confirm_email``), a duplicate sign-up always answers 422
``user_already_exists`` (the real service obfuscates it when email
confirmation is on), and an invalid or expired JWT answers
``bad_jwt_status`` (401 by default; the real service uses 403).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.loopback import LoopbackService, TrackedHandler, TrackedHTTPServer

__all__ = ["GoTrueServer"]

AUTH_PREFIX = "/auth/v1"
API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"
SUPPORTED_ALGS = ("HS256", "ES256", "RS256")
AUDIENCE = "authenticated"
ROLE = "authenticated"
MIN_PASSWORD_LENGTH = 6

# Paths under /auth/v1 that the gateway serves without an apikey.
_OPEN_PATHS = frozenset({"/.well-known/jwks.json"})
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_API_VERSION_RE = re.compile(r"^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_BEARER_RE = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)
_PBKDF2_ITERATIONS = 10_000


# --------------------------------------------------------------------------
# Errors (internal): each maps to one of the response shapes the real stack
# produces.
# --------------------------------------------------------------------------


class _ApiError(Exception):
    """A GoTrue ``HTTPError`` (or ``WeakPasswordError`` when ``extra`` is set)."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.extra = extra or {}


class _OAuthError(Exception):
    """GoTrue's OAuth2-style error: 400 ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class _GatewayError(Exception):
    """An error produced by the API gateway (Kong), not by GoTrue."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


# --------------------------------------------------------------------------
# Keys and token encoding
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    alg: str
    private_key: Any
    public_key: Any

    def public_jwk(self) -> dict[str, Any]:
        if self.alg == "ES256":
            jwk = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        else:
            jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update(
            {"kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"], "ext": True}
        )
        return jwk

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )


def _generate_signing_key(alg: str) -> _SigningKey:
    if alg == "ES256":
        private_key: Any = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:  # pragma: no cover - guarded by the callers
        raise ValueError(f"not an asymmetric algorithm: {alg}")
    return _SigningKey(
        kid=str(uuid.uuid4()),
        alg=alg,
        private_key=private_key,
        public_key=private_key.public_key(),
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _encode_jwt(
    header: Mapping[str, Any], payload: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """Encode a compact JWS by hand, so tests can forge any header/signature combination."""
    signing_input = f"{_b64url(_json_bytes(dict(header)))}.{_b64url(_json_bytes(dict(payload)))}"
    return f"{signing_input}.{_b64url(sign(signing_input.encode('ascii')))}"


def _signer(alg: str, key: Any) -> Callable[[bytes], bytes]:
    algorithm = jwt.get_algorithm_by_name(alg)
    return lambda message: algorithm.sign(message, key)


def _iso(ts: float | None = None) -> str:
    moment = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _hash_password(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS)
    return salt, digest


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    raw_path: str
    path: str  # below /auth/v1, e.g. "/token"
    query: dict[str, str]
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            value = json.loads(self.body)
        except ValueError as exc:
            raise _ApiError(
                400, "bad_json", f"Could not parse request body as JSON: {exc}"
            ) from exc
        if not isinstance(value, dict):
            raise _ApiError(
                400, "bad_json", "Could not parse request body as JSON: expected an object"
            )
        return value


@dataclass
class _Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] | None = None


class _HTTPServer(TrackedHTTPServer):
    def __init__(self, gotrue: GoTrueServer) -> None:
        self.gotrue = gotrue
        super().__init__(_Handler)


class _Handler(TrackedHandler):
    server_version = "GoTrueFake/1.0"
    server: _HTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        response = self.server.gotrue._dispatch(self.command, self.path, self.headers, body)
        payload = b"" if response.body is None else _json_bytes(response.body)
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (response.headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


# --------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------


class GoTrueServer(LoopbackService):
    thread_name = "gotrue-fake"

    """In-memory Supabase Auth (GoTrue) served over real HTTP. See the module docstring."""

    def __init__(
        self,
        *,
        alg: str = "ES256",
        jwt_secret: str = "test-jwt-secret-with-at-least-32-bytes!!",
        access_token_ttl: int = 3600,
        confirm_email_required: bool = False,
        anon_key: str = "test-anon-key",
    ) -> None:
        if alg not in SUPPORTED_ALGS:
            raise ValueError(f"alg must be one of {SUPPORTED_ALGS}, not {alg!r}")
        self.alg = alg
        self.jwt_secret = jwt_secret
        self.access_token_ttl = access_token_ttl
        self.confirm_email_required = confirm_email_required
        self.anon_key = anon_key
        # Status for an unverifiable/expired JWT on /user and /logout.  The
        # real service answers 403; 401 is this project's chosen contract.
        self.bad_jwt_status = 401
        self.request_log: list[tuple[str, str]] = []

        self._lock = threading.RLock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        # Asymmetric signing keys, oldest first; the last one signs.
        self._keys: list[_SigningKey] = [_generate_signing_key(alg)] if alg != "HS256" else []
        self._users: dict[str, dict[str, Any]] = {}  # email -> public user record
        self._password_hashes: dict[str, tuple[bytes, bytes]] = {}  # user id -> (salt, digest)
        self._sessions: dict[str, dict[str, Any]] = {}  # session id -> session
        self._ended_sessions: set[str] = set()
        self._refresh_tokens: dict[str, dict[str, Any]] = {}  # token -> record

    # ----------------------------------------------------------- lifecycle

    def _server_create(self) -> _HTTPServer:
        return _HTTPServer(self)

    def __repr__(self) -> str:
        return f"<GoTrueServer alg={self.alg} url={self._url or '(not started)'}>"

    @property
    def issuer(self) -> str:
        """The ``iss`` claim of issued tokens: ``url + "/auth/v1"``."""
        return self.url + AUTH_PREFIX

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/.well-known/jwks.json"

    def reset(self) -> None:
        """Forget users, sessions, tokens and the request log (keys and config stay)."""
        with self._lock:
            self._users.clear()
            self._password_hashes.clear()
            self._sessions.clear()
            self._ended_sessions.clear()
            self._refresh_tokens.clear()
            self.request_log.clear()

    # ---------------------------------------------------------------- keys

    @property
    def kid(self) -> str | None:
        """The ``kid`` that signs new tokens (``None`` in HS256 mode)."""
        with self._lock:
            return self._keys[-1].kid if self._keys else None

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS document served at ``/.well-known/jwks.json``."""
        with self._lock:
            return {"keys": [key.public_jwk() for key in self._keys]}

    def rotate_signing_key(self) -> str:
        """Make a new signing key (new ``kid``); old keys stay published. Returns the new kid."""
        if self.alg == "HS256":
            raise RuntimeError("rotate_signing_key() needs an asymmetric alg (ES256 or RS256)")
        key = _generate_signing_key(self.alg)
        with self._lock:
            self._keys.append(key)
        return key.kid

    def revoke_signing_key(self, kid: str) -> None:
        """Unpublish a previous signing key: tokens it signed stop verifying."""
        with self._lock:
            if self._keys and self._keys[-1].kid == kid:
                raise ValueError("cannot revoke the current signing key; rotate first")
            remaining = [key for key in self._keys if key.kid != kid]
            if len(remaining) == len(self._keys):
                raise KeyError(kid)
            self._keys = remaining

    def public_key_pem(self) -> bytes:
        """The current asymmetric public key as PEM (SubjectPublicKeyInfo)."""
        with self._lock:
            if not self._keys:
                raise RuntimeError("public_key_pem() needs an asymmetric alg (ES256 or RS256)")
            return self._keys[-1].public_pem()

    # --------------------------------------------------------------- users

    def create_user(self, *, email: str, password: str, confirmed: bool = True) -> dict[str, Any]:
        """Seed a user directly (no HTTP). Returns a copy of its public JSON."""
        email = self._normalize_email(email)
        with self._lock:
            if email in self._users:
                raise ValueError(f"user {email!r} already exists")
            user = self._new_user(email=email, password=password, data={}, confirmed=confirmed)
            return copy.deepcopy(user)

    def confirm_email(self, *, email: str) -> None:
        """Mark a user's email as confirmed (what clicking the email link does)."""
        with self._lock:
            user = self._users.get(self._normalize_email(email))
            if user is None:
                raise KeyError(email)
            self._mark_confirmed(user)

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        """A copy of the user's public JSON, or ``None``."""
        with self._lock:
            user = self._users.get(self._normalize_email(email))
            return copy.deepcopy(user) if user is not None else None

    def is_refresh_token_active(self, token: str) -> bool:
        """Whether ``token`` would currently be accepted by the refresh grant."""
        with self._lock:
            record = self._refresh_tokens.get(token)
            return bool(record) and not record["revoked"] and record["session_id"] in self._sessions

    # ---------------------------------------------------------- request log

    def count(self, method: str, path_prefix: str) -> int:
        """Requests logged with ``method`` whose path (with query) starts with ``path_prefix``.

        ``path_prefix`` may be given with or without the ``/auth/v1`` prefix,
        e.g. ``count("POST", "/token?grant_type=refresh_token")``.
        """
        method = method.upper()
        with self._lock:
            entries = list(self.request_log)
        total = 0
        for logged_method, path in entries:
            if logged_method != method:
                continue
            relative = path[len(AUTH_PREFIX) :] if path.startswith(AUTH_PREFIX) else None
            if path.startswith(path_prefix) or (
                relative is not None and relative.startswith(path_prefix)
            ):
                total += 1
        return total

    # -------------------------------------------------------------- tokens

    def mint_token(
        self,
        *,
        sub: str | None = None,
        claims_overrides: dict[str, Any] | None = None,
        headers_overrides: dict[str, Any] | None = None,
        drop_claims: tuple[str, ...] = (),
        key: str = "current",
    ) -> str:
        """Make an arbitrary access token, for negative tests.

        Claims default to what the server issues: ``sub`` (a random uuid when
        ``None``; a seeded user's id fills ``email``/metadata), ``aud``,
        ``role``, ``iss``, ``iat``, ``exp`` (``iat + access_token_ttl``),
        ``session_id`` (random) etc. ``claims_overrides`` is merged in as is
        (e.g. ``{"exp": time.time() - 10}``), then ``drop_claims`` are removed.
        ``headers_overrides`` is merged into the header; a ``None`` value
        removes that header (e.g. ``{"kid": None}``).

        ``key`` picks how the token is signed (the header's ``alg``/``kid``
        follow it unless overridden):

        * ``"current"``: like the server signs now;
        * ``"previous"``: the key before the last ``rotate_signing_key()``;
        * a published ``kid``: that key;
        * ``"secret"``: HS256 with ``jwt_secret`` and no kid (legacy secret);
        * ``"foreign"``: a fresh key of the same kind that is not published,
          with the current kid in the header (signature does not verify);
        * ``"public_pem_hmac"``: HS256 keyed with ``public_key_pem()`` and the
          current kid (the alg-confusion attack);
        * ``"none"``: ``alg: none`` and an empty signature.
        """
        now = int(time.time())
        sub = sub if sub is not None else str(uuid.uuid4())
        with self._lock:
            user = self._user_by_id(sub)
            claims: dict[str, Any] = {
                "aud": AUDIENCE,
                "exp": now + int(self.access_token_ttl),
                "iat": now,
                "iss": self.issuer,
                "sub": sub,
                "email": user["email"] if user else f"{sub[:8]}@example.test",
                "phone": "",
                "app_metadata": copy.deepcopy(user["app_metadata"])
                if user
                else {"provider": "email", "providers": ["email"]},
                "user_metadata": copy.deepcopy(user["user_metadata"]) if user else {},
                "role": ROLE,
                "aal": "aal1",
                "amr": [{"method": "password", "timestamp": now}],
                "session_id": str(uuid.uuid4()),
                "is_anonymous": False,
            }
            header, sign = self._signing_material(key)
        claims.update(claims_overrides or {})
        for name in drop_claims:
            claims.pop(name, None)
        for name, value in (headers_overrides or {}).items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return _encode_jwt(header, claims, sign)

    def _signing_material(self, key: str) -> tuple[dict[str, Any], Callable[[bytes], bytes]]:
        secret = self.jwt_secret.encode("utf-8")
        by_kid = {signing_key.kid: signing_key for signing_key in self._keys}
        if (key == "current" and self.alg == "HS256") or key == "secret":
            return {"alg": "HS256", "typ": "JWT"}, _signer("HS256", secret)
        if key == "none":
            return {"alg": "none", "typ": "JWT"}, lambda message: b""
        if key == "foreign" and self.alg == "HS256":
            return {"alg": "HS256", "typ": "JWT"}, _signer("HS256", secrets.token_bytes(32))
        if not self._keys:
            raise ValueError(f"key={key!r} needs an asymmetric alg (ES256 or RS256)")
        current = self._keys[-1]
        if key == "current":
            chosen = current
        elif key == "previous":
            if len(self._keys) < 2:
                raise ValueError("no previous signing key; call rotate_signing_key() first")
            chosen = self._keys[-2]
        elif key in by_kid:
            chosen = by_kid[key]
        elif key == "foreign":
            stranger = _generate_signing_key(self.alg)
            return {"alg": self.alg, "kid": current.kid, "typ": "JWT"}, _signer(
                self.alg, stranger.private_key
            )
        elif key == "public_pem_hmac":
            return {"alg": "HS256", "kid": current.kid, "typ": "JWT"}, _signer(
                "HS256", current.public_pem()
            )
        else:
            raise ValueError(f"unknown key spec {key!r}")
        return {"alg": chosen.alg, "kid": chosen.kid, "typ": "JWT"}, _signer(
            chosen.alg, chosen.private_key
        )

    def _verify_access_token(self, token: str) -> dict[str, Any]:
        """Verify like GoTrue's parseJWTClaims: signature, exp and nbf (not aud/iss)."""

        def bad(reason: object) -> _ApiError:
            return _ApiError(
                self.bad_jwt_status,
                "bad_jwt",
                f"invalid JWT: unable to parse or verify signature, {reason}",
            )

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise bad(exc) from exc
        kid, alg = header.get("kid"), header.get("alg")
        with self._lock:
            keys = {key.kid: key for key in self._keys}
        if isinstance(kid, str):
            signing_key = keys.get(kid)
            if signing_key is None:
                raise bad("token is unverifiable: error while executing keyfunc: key not found")
            verify_key: Any = signing_key.public_key
            algorithms = [signing_key.alg]
        elif alg == "HS256":
            verify_key, algorithms = self.jwt_secret.encode("utf-8"), ["HS256"]
        else:
            raise bad("token is unverifiable: error while executing keyfunc: missing kid")
        try:
            return jwt.decode(
                token,
                verify_key,
                algorithms=algorithms,
                options={"verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError as exc:
            raise bad(exc) from exc

    def _sign_access_token(self, claims: dict[str, Any]) -> str:
        header, sign = self._signing_material("current")
        return _encode_jwt(header, claims, sign)

    # ------------------------------------------------------ internal state
    # (callers hold self._lock)

    @staticmethod
    def _normalize_email(email: str) -> str:
        return email.strip().lower()

    def _user_by_id(self, user_id: str) -> dict[str, Any] | None:
        return next((user for user in self._users.values() if user["id"] == user_id), None)

    def _new_user(
        self, *, email: str, password: str, data: dict[str, Any], confirmed: bool
    ) -> dict[str, Any]:
        user_id = str(uuid.uuid4())
        now = _iso()
        identity_data = {
            "email": email,
            "email_verified": False,
            "phone_verified": False,
            "sub": user_id,
        }
        user: dict[str, Any] = {
            "id": user_id,
            "aud": AUDIENCE,
            "role": ROLE,
            "email": email,
            "email_confirmed_at": None,
            "phone": "",
            "confirmation_sent_at": None,
            "confirmed_at": None,
            "last_sign_in_at": None,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {**data, **identity_data},
            "identities": [
                {
                    "identity_id": str(uuid.uuid4()),
                    "id": user_id,
                    "user_id": user_id,
                    "identity_data": dict(identity_data),
                    "provider": "email",
                    "last_sign_in_at": now,
                    "created_at": now,
                    "updated_at": now,
                    "email": email,
                }
            ],
            "created_at": now,
            "updated_at": now,
            "is_anonymous": False,
        }
        self._users[email] = user
        self._password_hashes[user_id] = _hash_password(password)
        if confirmed:
            self._mark_confirmed(user)
        return user

    @staticmethod
    def _mark_confirmed(user: dict[str, Any]) -> None:
        now = _iso()
        user["email_confirmed_at"] = user["confirmed_at"] = now
        user["updated_at"] = now
        user["user_metadata"]["email_verified"] = True
        for identity in user["identities"]:
            identity["identity_data"]["email_verified"] = True

    def _check_password(self, user: dict[str, Any], password: str) -> bool:
        salt, digest = self._password_hashes[user["id"]]
        return hmac.compare_digest(_hash_password(password, salt)[1], digest)

    def _issue_session(
        self, user: dict[str, Any], *, session_id: str | None = None, parent: str | None = None
    ) -> dict[str, Any]:
        now = int(time.time())
        ttl = int(self.access_token_ttl)
        if session_id is None:
            session_id = str(uuid.uuid4())
            self._sessions[session_id] = {
                "id": session_id,
                "user_id": user["id"],
                "created_at": now,
                "amr": "password",
            }
            user["last_sign_in_at"] = _iso(now)
        session = self._sessions[session_id]
        claims = {
            "aud": AUDIENCE,
            "exp": now + ttl,
            "iat": now,
            "iss": self.issuer,
            "sub": user["id"],
            "email": user["email"],
            "phone": user["phone"],
            "app_metadata": copy.deepcopy(user["app_metadata"]),
            "user_metadata": copy.deepcopy(user["user_metadata"]),
            "role": user["role"],
            "aal": "aal1",
            "amr": [{"method": session["amr"], "timestamp": session["created_at"]}],
            "session_id": session_id,
            "is_anonymous": False,
        }
        refresh_token = secrets.token_urlsafe(24)
        self._refresh_tokens[refresh_token] = {
            "session_id": session_id,
            "user_id": user["id"],
            "revoked": False,
            "parent": parent,
        }
        return {
            "access_token": self._sign_access_token(claims),
            "token_type": "bearer",
            "expires_in": ttl,
            "expires_at": now + ttl,
            "refresh_token": refresh_token,
            "user": copy.deepcopy(user),
        }

    def _end_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self._ended_sessions.add(session_id)
        for token in [
            t for t, record in self._refresh_tokens.items() if record["session_id"] == session_id
        ]:
            del self._refresh_tokens[token]

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Response:
        with self._lock:
            self.request_log.append((method, raw_path))
        split = urlsplit(raw_path)
        path = split.path
        try:
            if path != AUTH_PREFIX and not path.startswith(AUTH_PREFIX + "/"):
                raise _GatewayError(404, "no Route matched with those values")
            sub_path = "/" + path[len(AUTH_PREFIX) :].strip("/")
            if sub_path not in _OPEN_PATHS:
                apikey = headers.get("apikey")
                if not apikey:
                    raise _GatewayError(401, "No API key found in request")
                if not hmac.compare_digest(apikey.encode(), self.anon_key.encode()):
                    raise _GatewayError(401, "Invalid API key")
            query = {
                name: values[0]
                for name, values in parse_qs(split.query, keep_blank_values=True).items()
            }
            request = _Request(
                method=method,
                raw_path=raw_path,
                path=sub_path,
                query=query,
                headers=headers,
                body=body,
            )
            routes = self._routes()
            handler = routes.get((method, sub_path))
            if handler is None:
                if any(route_path == sub_path for _, route_path in routes):
                    raise _ApiError(405, "method_not_allowed", f"Method {method} not allowed")
                raise _ApiError(404, "not_found", f"Not found: {sub_path}")
            return handler(request)
        except _GatewayError as exc:
            return _Response(exc.status, {"message": exc.message})
        except _OAuthError as exc:
            return _Response(400, {"error": exc.error, "error_description": exc.description})
        except _ApiError as exc:
            return self._error_response(exc, headers)
        except Exception:  # a bug in the fake: say so loudly, like GoTrue's 500
            traceback.print_exc()
            return self._error_response(
                _ApiError(
                    500,
                    "unexpected_failure",
                    "Unexpected failure, please check server logs for more information",
                ),
                headers,
            )

    @staticmethod
    def _error_response(error: _ApiError, request_headers: Any) -> _Response:
        requested = (request_headers.get(API_VERSION_HEADER) or "").strip()
        if _API_VERSION_RE.match(requested) and requested >= API_VERSION_2024_01_01:
            body: dict[str, Any] = {"code": error.error_code, "message": error.message}
            response_headers = {API_VERSION_HEADER: API_VERSION_2024_01_01}
        else:
            body = {"code": error.status, "error_code": error.error_code, "msg": error.message}
            response_headers = {}
        body.update(error.extra)
        return _Response(error.status, body, response_headers)

    def _routes(self) -> dict[tuple[str, str], Callable[[_Request], _Response]]:
        return {
            ("POST", "/signup"): self._handle_signup,
            ("POST", "/token"): self._handle_token,
            ("GET", "/user"): self._handle_get_user,
            ("PUT", "/user"): self._handle_update_user,
            ("POST", "/logout"): self._handle_logout,
            ("GET", "/.well-known/jwks.json"): self._handle_jwks,
            ("GET", "/health"): self._handle_health,
            ("GET", "/settings"): self._handle_settings,
        }

    # ------------------------------------------------------------ handlers

    @staticmethod
    def _weak_password(password: str) -> _ApiError | None:
        if len(password) >= MIN_PASSWORD_LENGTH:
            return None
        return _ApiError(
            422,
            "weak_password",
            f"Password should be at least {MIN_PASSWORD_LENGTH} characters.",
            extra={"weak_password": {"reasons": ["length"]}},
        )

    def _handle_signup(self, request: _Request) -> _Response:
        body = request.json()
        email, password = body.get("email"), body.get("password")
        data = body.get("data") or {}
        if not email and body.get("phone"):
            raise _ApiError(400, "phone_provider_disabled", "Phone signups are disabled")
        if not email and not password:
            raise _ApiError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        if not isinstance(email, str) or not email:
            raise _ApiError(400, "validation_failed", "To signup, please provide your email")
        if not isinstance(password, str) or not password:
            raise _ApiError(422, "validation_failed", "Signup requires a valid password")
        if not isinstance(data, dict):
            raise _ApiError(400, "validation_failed", "data must be a JSON object")
        email = self._normalize_email(email)
        if not _EMAIL_RE.match(email):
            raise _ApiError(
                400, "validation_failed", "Unable to validate email address: invalid format"
            )
        weak = self._weak_password(password)
        if weak is not None:
            raise weak
        with self._lock:
            if email in self._users:
                raise _ApiError(422, "user_already_exists", "User already registered")
            user = self._new_user(
                email=email, password=password, data=data, confirmed=not self.confirm_email_required
            )
            if self.confirm_email_required:
                user["confirmation_sent_at"] = _iso()
                return _Response(200, copy.deepcopy(user))
            return _Response(200, self._issue_session(user))

    def _handle_token(self, request: _Request) -> _Response:
        grant_type = request.query.get("grant_type", "")
        if grant_type == "password":
            return self._password_grant(request.json())
        if grant_type == "refresh_token":
            return self._refresh_grant(request.json())
        raise _OAuthError("unsupported_grant_type", f"unsupported grant_type {grant_type!r}")

    def _password_grant(self, body: dict[str, Any]) -> _Response:
        email, password = body.get("email"), body.get("password")
        if not isinstance(password, str):
            password = ""
        if not isinstance(email, str) or not email:
            if body.get("phone"):
                raise _ApiError(400, "invalid_credentials", "Invalid login credentials")
            raise _ApiError(400, "validation_failed", "missing email or phone")
        with self._lock:
            user = self._users.get(self._normalize_email(email))
            if user is None or not self._check_password(user, password):
                raise _ApiError(400, "invalid_credentials", "Invalid login credentials")
            if user["email_confirmed_at"] is None:
                raise _ApiError(400, "email_not_confirmed", "Email not confirmed")
            return _Response(200, self._issue_session(user))

    def _refresh_grant(self, body: dict[str, Any]) -> _Response:
        token = body.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise _OAuthError("invalid_request", "refresh_token required")
        with self._lock:
            record = self._refresh_tokens.get(token)
            if record is None or record["session_id"] not in self._sessions:
                raise _ApiError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if record["revoked"]:
                # Reuse detection: revoke every token of this session family.
                for other in self._refresh_tokens.values():
                    if other["session_id"] == record["session_id"]:
                        other["revoked"] = True
                raise _ApiError(
                    400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"
                )
            user = self._user_by_id(record["user_id"])
            if user is None:
                raise _ApiError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            record["revoked"] = True
            return _Response(
                200, self._issue_session(user, session_id=record["session_id"], parent=token)
            )

    def _authenticate(self, request: _Request) -> tuple[dict[str, Any], dict[str, Any]]:
        match = _BEARER_RE.match(request.headers.get("Authorization") or "")
        if match is None:
            raise _ApiError(401, "no_authorization", "This endpoint requires a Bearer token")
        claims = self._verify_access_token(match.group(1))
        subject = claims.get("sub")
        if not subject:
            raise _ApiError(self.bad_jwt_status, "bad_jwt", "invalid claim: missing sub claim")
        try:
            uuid.UUID(str(subject))
        except ValueError as exc:
            raise _ApiError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from exc
        with self._lock:
            user = self._user_by_id(str(subject))
            if user is None:
                raise _ApiError(403, "user_not_found", "User from sub claim in JWT does not exist")
            if claims.get("session_id") in self._ended_sessions:
                raise _ApiError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return user, claims

    def _handle_get_user(self, request: _Request) -> _Response:
        user, _ = self._authenticate(request)
        with self._lock:
            return _Response(200, copy.deepcopy(user))

    def _handle_update_user(self, request: _Request) -> _Response:
        user, _ = self._authenticate(request)
        body = request.json()
        if body.get("email") is not None or body.get("phone") is not None:
            raise _ApiError(
                422, "validation_failed", "Changing email or phone is not supported by this fake"
            )
        password = body.get("password")
        if password is not None:
            if not isinstance(password, str):
                raise _ApiError(422, "validation_failed", "Password must be a string")
            weak = self._weak_password(password)
            if weak is not None:
                raise weak
        data = body.get("data")
        if data is not None and not isinstance(data, dict):
            raise _ApiError(400, "validation_failed", "data must be a JSON object")
        with self._lock:
            if password is not None:
                if self._check_password(user, password):
                    raise _ApiError(
                        422,
                        "same_password",
                        "New password should be different from the old password.",
                    )
                self._password_hashes[user["id"]] = _hash_password(password)
            for name, value in (data or {}).items():
                if value is None:
                    user["user_metadata"].pop(name, None)
                else:
                    user["user_metadata"][name] = value
            user["updated_at"] = _iso()
            return _Response(200, copy.deepcopy(user))

    def _handle_logout(self, request: _Request) -> _Response:
        scope = request.query.get("scope", "") or "global"
        if scope not in ("global", "local", "others"):
            raise _ApiError(400, "validation_failed", f'Unsupported logout scope "{scope}"')
        user, claims = self._authenticate(request)
        session_id = claims.get("session_id")
        with self._lock:
            current = session_id if session_id in self._sessions else None
            if current is not None and scope == "local":
                self._end_session(current)
            elif current is not None and scope == "others":
                for other in [
                    sid
                    for sid, s in self._sessions.items()
                    if s["user_id"] == user["id"] and sid != current
                ]:
                    self._end_session(other)
            else:
                for other in [
                    sid for sid, s in self._sessions.items() if s["user_id"] == user["id"]
                ]:
                    self._end_session(other)
        return _Response(204)

    def _handle_jwks(self, request: _Request) -> _Response:
        return _Response(200, self.jwks(), {"Cache-Control": "public, max-age=600"})

    def _handle_health(self, request: _Request) -> _Response:
        return _Response(
            200,
            {
                "version": "fake",
                "name": "GoTrue",
                "description": "GoTrue is a user registration and authentication API",
            },
        )

    def _handle_settings(self, request: _Request) -> _Response:
        return _Response(
            200,
            {
                "external": {"email": True, "phone": False, "anonymous_users": False},
                "disable_signup": False,
                "mailer_autoconfirm": not self.confirm_email_required,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            },
        )
