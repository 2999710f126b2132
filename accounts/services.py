"""Writes of the accounts app: sign-up, sign-in, sign-out, the Supabase session bridge, the
persona."""

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from accounts.errors import AccessTokenInvalid, AuthFailed, AuthServiceUnavailable
from accounts.models import Profile, User
from accounts.supabase import (
    SupabaseSession,
    supabase_enabled,
    supabase_refresh,
    supabase_sign_in,
    supabase_sign_out,
    supabase_sign_up,
)
from accounts.tokens import VerifiedClaims, access_token_verify
from memory.services import memory_space_allocate
from memory.vectors import VectorStoreUnavailable
from pipo.text import text_unstorable_reason

logger = logging.getLogger(__name__)

# Where the Supabase tokens live: server-side, in the Django session, never in the browser.
SUPABASE_SESSION_KEY = "supabase"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCOUNT_EXISTS = "An account with this email already exists. Sign in instead."


@dataclass(frozen=True)
class SignUpOutcome:
    user: User | None
    confirmation_sent_to: str | None = None  # set when Supabase asks the person to confirm


def profile_ensure(*, user: User) -> Profile:
    """The person's profile and Chroma collection; safe to call at every sign-in, and racing."""
    profile, _ = Profile.objects.get_or_create(user=user)
    if not profile.memory_space_ready:
        try:
            memory_space_allocate(user=user, name=profile.memory_space)
        except VectorStoreUnavailable as exc:
            # Sign-in must not fail because Chroma is down; the next sign-in allocates it.
            logger.warning("memory space for user %s not allocated yet: %s", user.pk, exc)
            return profile
        Profile.objects.filter(pk=profile.pk).update(memory_space_ready=True)
        profile.memory_space_ready = True
    return profile


def user_sync_from_claims(*, claims: VerifiedClaims) -> User:
    """The one Django user of a verified Supabase `sub`, created on first sight."""
    user, created = User.objects.get_or_create(
        supabase_id=claims.sub,
        defaults={"username": str(claims.sub), "email": claims.email},
    )
    if not created and claims.email and user.email != claims.email:
        user.email = claims.email
        user.save(update_fields=["email"])
    return user


def api_user_from_token(*, token: str) -> User:
    """The user behind a bearer token; raises AccessTokenInvalid or AuthServiceUnavailable."""
    user = user_sync_from_claims(claims=access_token_verify(token=token))
    profile_ensure(user=user)
    return user


def _password_check(*, email: str, password: str) -> None:
    try:
        validate_password(password, user=User(username=email, email=email))
    except ValidationError as exc:
        raise AuthFailed(" ".join(exc.messages), field="password") from exc


def _supabase_session_store(*, request: HttpRequest, session: SupabaseSession) -> None:
    request.session[SUPABASE_SESSION_KEY] = {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expires_at": session.expires_at,
    }


def _supabase_session_start(*, request: HttpRequest, session: SupabaseSession) -> User:
    # Verify before anything is written: a token PIPO can't verify makes no user and no session.
    claims = access_token_verify(token=session.access_token)
    user = user_sync_from_claims(claims=claims)
    login(request, user, backend=MODEL_BACKEND)
    _supabase_session_store(
        request=request,
        session=SupabaseSession(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_at=claims.expires_at,
        ),
    )
    return user


def account_sign_up(*, request: HttpRequest, email: str, password: str) -> SignUpOutcome:
    email = email.strip().lower()
    _password_check(email=email, password=password)
    if supabase_enabled():
        outcome = supabase_sign_up(email=email, password=password)
        if outcome.session is None:
            return SignUpOutcome(user=None, confirmation_sent_to=email)
        user = _supabase_session_start(request=request, session=outcome.session)
    else:
        if User.objects.filter(username=email).exists():
            raise AuthFailed(ACCOUNT_EXISTS, field="email")
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=email, email=email, password=password)
        except IntegrityError as exc:  # the same email signed up a moment ago
            raise AuthFailed(ACCOUNT_EXISTS, field="email") from exc
        login(request, user, backend=MODEL_BACKEND)
    profile_ensure(user=user)
    return SignUpOutcome(user=user)


class SignInThrottled(AuthFailed):
    """Too many failed sign-ins for this email from this address; `retry_at` says until when."""

    def __init__(self, retry_at: datetime) -> None:
        minutes = max(1, math.ceil((retry_at - timezone.now()).total_seconds() / 60))
        local = timezone.localtime(retry_at)
        super().__init__(
            f"Too many failed sign-ins for this email. Please try again in {minutes} "
            f"minute{'' if minutes == 1 else 's'}, at {local:%H:%M} ({local.tzname()})."
        )
        self.retry_at = retry_at


def _sign_in_credentials(email: str) -> dict:
    # django-axes names the login in credentials by the user model's USERNAME_FIELD.
    return {User.USERNAME_FIELD: email}


def sign_in_retry_at(*, request: HttpRequest, email: str) -> datetime | None:
    """When this email may sign in again from this request's address; None if it may now."""
    credentials = _sign_in_credentials(email)
    if AxesProxyHandler.is_allowed(request, credentials):
        return None
    cool_off = get_cool_off(request)
    last_failure = AccessAttempt.objects.filter(
        username=email, ip_address=request.axes_ip_address
    ).aggregate(last=Max("attempt_time"))["last"]
    return (last_failure or timezone.now()) + cool_off


def _sign_in_throttle_check(*, request: HttpRequest, email: str) -> None:
    retry_at = sign_in_retry_at(request=request, email=email)
    if retry_at is not None:
        raise SignInThrottled(retry_at)


def account_sign_in(*, request: HttpRequest, email: str, password: str) -> User:
    """Sign in by email and password; raises AuthFailed (SignInThrottled after too many)."""
    email = email.strip().lower()
    # Checked before the password, so a locked-out pair learns nothing, even when right.
    _sign_in_throttle_check(request=request, email=email)
    try:
        if supabase_enabled():
            user = _supabase_session_start(
                request=request, session=supabase_sign_in(email=email, password=password)
            )
        else:
            # Through authenticate(): a refusal sends user_login_failed, which axes counts.
            user = authenticate(request, username=email, password=password)
            if user is None:
                raise AuthFailed("Wrong email or password.")
            login(request, user)
    except (AuthServiceUnavailable, AccessTokenInvalid):
        raise  # PIPO's or Supabase's trouble, not a wrong guess
    except AuthFailed:
        if supabase_enabled():
            user_login_failed.send(
                sender=__name__, credentials=_sign_in_credentials(email), request=request
            )
        _sign_in_throttle_check(request=request, email=email)  # this failure may be the last
        raise
    # A Supabase user's username is their sub, not the email axes counted under.
    AxesProxyHandler.reset_attempts(ip_address=request.axes_ip_address, username=email)
    profile_ensure(user=user)
    return user


def _supabase_tokens_refresh(*, request: HttpRequest, tokens: dict) -> dict:
    session = supabase_refresh(refresh_token=tokens["refresh_token"])
    claims = access_token_verify(token=session.access_token)
    if claims.sub != request.user.supabase_id:
        raise AuthFailed("The refreshed session belongs to someone else.")
    fresh = SupabaseSession(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_at=claims.expires_at,
    )
    _supabase_session_store(request=request, session=fresh)
    return request.session[SUPABASE_SESSION_KEY]


def supabase_session_keep_fresh(*, request: HttpRequest) -> None:
    """Refresh the stored access token shortly before it expires, unseen by the person.

    Raises AuthFailed when Supabase refuses the refresh token (revoked, signed out
    elsewhere): the Django session is then ended too. When Supabase is unreachable the
    person keeps browsing and the refresh is tried again on the next request.
    """
    tokens = request.session.get(SUPABASE_SESSION_KEY)
    if not tokens:
        return
    if tokens["expires_at"] - settings.SUPABASE_REFRESH_MARGIN_SECONDS > time.time():
        return
    # One refresh per session at a time: GoTrue rotates refresh tokens, so a second
    # concurrent refresh with the same token would be refused and sign the person out.
    lock_key = f"supabase-refresh:{request.session.session_key}"
    if not cache.add(lock_key, 1, timeout=30):
        return
    try:
        _supabase_tokens_refresh(request=request, tokens=tokens)
    except AuthServiceUnavailable as exc:
        logger.warning("Supabase refresh postponed: %s", exc.detail or exc.message)
    except AuthFailed:
        logout(request)
        raise
    finally:
        cache.delete(lock_key)


def account_sign_out(*, request: HttpRequest) -> None:
    """Revoke the Supabase session (if any), then flush the Django session."""
    tokens = request.session.get(SUPABASE_SESSION_KEY)
    if tokens and supabase_enabled():
        try:
            if tokens["expires_at"] <= time.time():
                tokens = _supabase_tokens_refresh(request=request, tokens=tokens)
            supabase_sign_out(access_token=tokens["access_token"])
        except AuthFailed as exc:
            # The person asked to leave: they leave, even if Supabase can't be told.
            logger.warning("Supabase sign-out not confirmed: %s", exc.message)
    logout(request)


ASSISTANT_NAME_MAX_LENGTH = 60
TONE_MAX_LENGTH = 60
TRAIT_MAX_LENGTH = 40
TRAITS_MAX = 12
INSTRUCTIONS_MAX_LENGTH = 2000


def _persona_errors(
    *, assistant_name: str, tone: str, traits: list[str], instructions: str
) -> dict[str, str]:
    errors = {}
    if not assistant_name:
        errors["assistant_name"] = "Give your assistant a name."
    elif len(assistant_name) > ASSISTANT_NAME_MAX_LENGTH:
        errors["assistant_name"] = (
            f"The name is {len(assistant_name)} characters long; "
            f"the limit is {ASSISTANT_NAME_MAX_LENGTH}."
        )
    if len(tone) > TONE_MAX_LENGTH:
        errors["tone"] = f"The tone is {len(tone)} characters long; the limit is {TONE_MAX_LENGTH}."
    too_long = [trait for trait in traits if len(trait) > TRAIT_MAX_LENGTH]
    if too_long:
        errors["traits"] = (
            f'"{too_long[0][:TRAIT_MAX_LENGTH]}…" is too long: '
            f"each trait may have at most {TRAIT_MAX_LENGTH} characters."
        )
    elif len(traits) > TRAITS_MAX:
        errors["traits"] = f"That is {len(traits)} traits; the limit is {TRAITS_MAX}."
    if len(instructions) > INSTRUCTIONS_MAX_LENGTH:
        errors["instructions"] = (
            f"The instructions are {len(instructions):,} characters long; "
            f"the limit is {INSTRUCTIONS_MAX_LENGTH:,}."
        )
    fields = {"assistant_name": assistant_name, "tone": tone, "instructions": instructions}
    for name, text in [*fields.items(), *(("traits", trait) for trait in traits)]:
        unstorable = text_unstorable_reason(text=text)
        if unstorable and name not in errors:
            errors[name] = f"This {unstorable}, which PIPO can't store. Remove it."
    return errors


def persona_update(
    *, user: User, assistant_name: str, tone: str, traits: list[str], instructions: str
) -> Profile:
    """Save the person's assistant persona; raises ValidationError (by field), saving nothing."""
    # One line each: they are set into single lines of the system prompt.
    assistant_name, tone = " ".join(assistant_name.split()), " ".join(tone.split())
    instructions = instructions.replace("\r\n", "\n").strip()
    unique: dict[str, str] = {}
    for trait in (" ".join(str(t).split()) for t in traits):
        if trait:
            unique.setdefault(trait.casefold(), trait)
    traits = list(unique.values())
    errors = _persona_errors(
        assistant_name=assistant_name, tone=tone, traits=traits, instructions=instructions
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
        profile.assistant_name = assistant_name
        profile.tone = tone
        profile.traits = traits
        profile.instructions = instructions
        profile.save(
            update_fields=["assistant_name", "tone", "traits", "instructions", "updated_at"]
        )
    return profile
