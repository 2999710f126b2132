"""Request-level auth: bearer tokens for the JSON API, fresh Supabase tokens for pages."""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from accounts.errors import AccessTokenInvalid, AuthFailed, AuthServiceUnavailable
from accounts.services import api_user_from_token, supabase_session_keep_fresh
from accounts.supabase import supabase_enabled

API_PREFIX = "/api/"


def _api_error(*, status: int, error: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": error, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = f'Bearer realm="pipo", error="{error}"'
    return response


class BearerTokenMiddleware:
    """Under /api/ a Supabase access token (no CSRF), or else the browser's session.

    A request with an Authorization header is judged by its token alone, its cookies
    ignored, so it needs no CSRF token. One without is the signed-in session's: then
    CsrfViewMiddleware still asks unsafe methods for the CSRF token.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        authorization = request.headers.get("Authorization", "")
        if not authorization.strip() and request.user.is_authenticated:
            return self.get_response(request)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _api_error(
                status=401,
                error="invalid_request",
                detail="Send your Supabase access token as 'Authorization: Bearer <token>', "
                "or sign in to PIPO in this browser.",
            )
        if not supabase_enabled():
            return _api_error(
                status=401,
                error="invalid_token",
                detail="This PIPO has no Supabase Auth configured, so it accepts no API tokens.",
            )
        try:
            request.user = api_user_from_token(token=token)
        except AuthServiceUnavailable:
            return _api_error(
                status=503,
                error="auth_unavailable",
                detail="The sign-in service is unavailable. Please try again in a minute.",
            )
        except AccessTokenInvalid as exc:
            return _api_error(status=401, error="invalid_token", detail=exc.message)
        request._dont_enforce_csrf_checks = True
        return self.get_response(request)


class SupabaseSessionMiddleware:
    """Keeps a signed-in person's Supabase access token fresh; ends the session if revoked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            supabase_enabled()
            and not request.path.startswith(API_PREFIX)
            and request.user.is_authenticated
        ):
            try:
                supabase_session_keep_fresh(request=request)
            except AuthFailed:
                messages.info(request, "Your session has ended. Please sign in again.")
                if request.headers.get("HX-Request"):
                    return HttpResponseClientRedirect(reverse("accounts:signin"))
                return redirect("accounts:signin")
        return self.get_response(request)
