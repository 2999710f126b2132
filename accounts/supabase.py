"""The gateway to Supabase Auth (GoTrue), through the real `supabase` client.

A fresh client per call: the GoTrue client keeps the last session in memory, and one
person's session must never be visible to another request.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from django.conf import settings
from supabase import ClientOptions, create_client
from supabase._sync.auth_client import SyncSupabaseAuthClient
from supabase_auth.errors import AuthApiError, AuthError

from accounts.errors import AuthFailed, AuthServiceUnavailable

# GoTrue error codes and what the person should read instead.
_MESSAGES = {
    "invalid_credentials": ("Wrong email or password.", None),
    "email_not_confirmed": (
        "Please confirm your email first: open the link we sent you, then sign in.",
        "email",
    ),
    "user_already_exists": (
        "An account with this email already exists. Sign in instead.",
        "email",
    ),
    "email_exists": ("An account with this email already exists. Sign in instead.", "email"),
    "weak_password": (None, "password"),
    "validation_failed": (None, None),
    "email_address_invalid": ("That email address is not accepted.", "email"),
    "signup_disabled": ("Sign-up is closed on this PIPO.", None),
    "over_request_rate_limit": ("Too many attempts. Please wait a minute and try again.", None),
    "over_email_send_rate_limit": (
        "Too many emails sent. Please wait a minute and try again.",
        None,
    ),
}


def supabase_enabled() -> bool:
    return bool(settings.SUPABASE_URL)


@dataclass(frozen=True)
class SupabaseSession:
    access_token: str
    refresh_token: str
    expires_at: int


@dataclass(frozen=True)
class SupabaseSignUp:
    session: SupabaseSession | None  # None when the project requires email confirmation


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except AuthApiError as exc:
        if exc.status >= 500:
            raise AuthServiceUnavailable(str(exc)) from exc
        message, field = _MESSAGES.get(exc.code or "", (None, None))
        raise AuthFailed(message or exc.message, field=field) from exc
    except AuthError as exc:  # AuthRetryableError, AuthUnknownError: nothing usable came back
        raise AuthServiceUnavailable(str(exc)) from exc
    except httpx.HTTPError as exc:
        raise AuthServiceUnavailable(str(exc)) from exc


@contextmanager
def _auth() -> Iterator[SyncSupabaseAuthClient]:
    with httpx.Client(timeout=settings.SUPABASE_TIMEOUT_SECONDS) as http, _translated_errors():
        client = create_client(
            settings.SUPABASE_URL,
            settings.SUPABASE_ANON_KEY,
            options=ClientOptions(
                auto_refresh_token=False, persist_session=False, httpx_client=http
            ),
        )
        yield client.auth


def _session(raw) -> SupabaseSession:
    return SupabaseSession(
        access_token=raw.access_token,
        refresh_token=raw.refresh_token,
        expires_at=int(raw.expires_at or 0),
    )


def supabase_sign_up(*, email: str, password: str) -> SupabaseSignUp:
    with _auth() as auth:
        response = auth.sign_up({"email": email, "password": password})
    return SupabaseSignUp(session=_session(response.session) if response.session else None)


def supabase_sign_in(*, email: str, password: str) -> SupabaseSession:
    with _auth() as auth:
        response = auth.sign_in_with_password({"email": email, "password": password})
    if response.session is None:
        raise AuthServiceUnavailable("token endpoint answered without a session")
    return _session(response.session)


def supabase_refresh(*, refresh_token: str) -> SupabaseSession:
    with _auth() as auth:
        response = auth.refresh_session(refresh_token)
    if response.session is None:
        raise AuthServiceUnavailable("refresh answered without a session")
    return _session(response.session)


def supabase_sign_out(*, access_token: str) -> None:
    """Revoke this session's refresh token at Supabase (scope local: other devices stay)."""
    with _auth() as auth:
        auth.admin.sign_out(access_token, "local")
