from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.errors import AuthFailed, AuthServiceUnavailable
from accounts.forms import PersonaForm, SignInForm, SignUpForm
from accounts.models import User
from accounts.selectors import persona_get, profile_get
from accounts.services import (
    SignInThrottled,
    account_sign_in,
    account_sign_out,
    account_sign_up,
    persona_update,
    sign_in_retry_at,
)
from memory.selectors import portrait_get


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url("chat:index")


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _form_page(request: HttpRequest, template: str, context: dict, status: int) -> HttpResponse:
    # One view, two renderings: the whole page, or only the form for an htmx swap.
    name = f"{template}#auth-form" if request.htmx else template
    return render(request, name, {"next": _next_url(request), **context}, status=status)


@login_not_required
@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return _go(request, _next_url(request))
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            account_sign_in(request=request, **form.cleaned_data)
        except AuthServiceUnavailable as exc:
            form.add_error(None, exc.message)
            status = 503
        except SignInThrottled as exc:
            form.add_error(None, exc.message)
            status = 429
        except AuthFailed as exc:
            form.add_error(exc.field, exc.message)
        else:
            return _go(request, _next_url(request))
    return _form_page(request, "accounts/signin.html", {"form": form}, status)


def signin_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the sign-in form already says
    when to retry; any other login (the admin's) gets the same words as plain text."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    username = (credentials or {}).get(User.USERNAME_FIELD) or ""
    retry_at = sign_in_retry_at(request=request, email=username)
    message = (
        SignInThrottled(retry_at).message
        if retry_at
        else "Too many failed sign-ins. Please try again later."
    )
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return _go(request, _next_url(request))
    form = SignUpForm(request.POST or None)
    status = 200
    context: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            outcome = account_sign_up(request=request, **form.cleaned_data)
        except AuthServiceUnavailable as exc:
            form.add_error(None, exc.message)
            status = 503
        except AuthFailed as exc:
            form.add_error(exc.field, exc.message)
        else:
            if outcome.user is not None:
                return _go(request, _next_url(request))
            context["confirmation_sent_to"] = outcome.confirmation_sent_to
    return _form_page(request, "accounts/signup.html", context, status)


@login_not_required
@require_http_methods(["GET", "POST"])
def signout(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if not request.user.is_authenticated:
            return redirect("accounts:signin")
        return render(request, "accounts/signout.html")
    account_sign_out(request=request)
    messages.info(request, "You are signed out.")
    return _go(request, resolve_url("accounts:signin"))


@require_http_methods(["GET", "POST"])
def persona_settings(request: HttpRequest) -> HttpResponse:
    profile = persona_get(user=request.user)
    initial = {
        "assistant_name": profile.assistant_name,
        "tone": profile.tone,
        "traits": "\n".join(profile.traits or ()),
        "instructions": profile.instructions,
    }
    form = PersonaForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                persona_update(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field, error)
            else:
                messages.success(request, "Your assistant's persona is saved.")
                return _go(request, resolve_url("accounts:settings"))
        status = 422
    template = "accounts/settings.html"
    return render(
        request,
        f"{template}#persona-form" if request.htmx else template,
        {"form": form, "portrait": portrait_get(user=request.user)},
        status=status,
    )


@require_GET
def api_me(request: HttpRequest) -> JsonResponse:
    profile = profile_get(user=request.user)
    return JsonResponse(
        {
            "id": request.user.pk,
            "email": request.user.email,
            "supabase_id": str(request.user.supabase_id) if request.user.supabase_id else None,
            "assistant_name": profile.assistant_name if profile else None,
            "traits": profile.traits if profile else [],
        }
    )
