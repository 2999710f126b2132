"""What every JSON endpoint under /api/ shares: the error shape, body parsing, paging.

Errors have the shape the bearer-token middleware already answers with:
`{"error": "<code>", "detail": "<what to do about it>"}`. An endpoint raises `ApiError`
anywhere below its view and `api_view` turns it into that JSON, so a bad request never
becomes an HTML page or a traceback.
"""

import functools
import inspect
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import EmptyPage, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure

from pipo.text import text_unstorable_reason

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
# A body holds one message at most; JSON may escape each character as six bytes (\uXXXX).
BODY_OVERHEAD_BYTES = 16 * 1024


@dataclass
class ApiError(Exception):
    status: int
    error: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def api_error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse({"error": error.error, "detail": error.detail}, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def api_not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"There is no {what} with that id among yours.")


def _method_not_allowed(request: HttpRequest, allowed: Iterable[str]) -> JsonResponse:
    allowed = sorted(allowed)
    return api_error_response(
        ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here; use {', '.join(allowed)}.",
            {"Allow": ", ".join(allowed)},
        )
    )


def _server_error(request: HttpRequest) -> JsonResponse:
    logger.exception("API request %s %s failed", request.method, request.path)
    return api_error_response(
        ApiError(500, "server_error", "Something went wrong in PIPO. Please try again.")
    )


def api_view(methods: Iterable[str]) -> Callable:
    """Allow only `methods` (a JSON 405 otherwise) and answer any ApiError as JSON."""
    allowed = frozenset(methods)

    def decorate(view: Callable) -> Callable:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
                if request.method not in allowed:
                    return _method_not_allowed(request, allowed)
                try:
                    return await view(request, *args, **kwargs)
                except ApiError as error:
                    return api_error_response(error)
                except Exception:
                    return _server_error(request)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in allowed:
                return _method_not_allowed(request, allowed)
            try:
                return view(request, *args, **kwargs)
            except ApiError as error:
                return api_error_response(error)
            except Exception:
                return _server_error(request)

        return wrapper

    return decorate


def api_body_limit() -> int:
    return settings.PIPO_MAX_MESSAGE_CHARS * 6 + BODY_OVERHEAD_BYTES


def json_body(request: HttpRequest) -> dict:
    """The request's JSON object; 413 past the body limit, 400 for anything but an object."""
    limit = api_body_limit()
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    try:
        body = request.body
    except RequestDataTooBig:
        raise _too_large(limit) from None
    if len(body) > limit:
        raise _too_large(limit)
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(
            400, "invalid_json", "The body is not valid JSON. Send a JSON object."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", 'The body must be a JSON object, e.g. {"text": ...}.')
    return data


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The request body is over {limit:,} bytes.")


def fields_allowed(data: dict, allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ApiError(
            400,
            "invalid_field",
            f"Unknown field(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}.",
        )


def field_text(data: dict, name: str, *, required: bool = False, default: str = "") -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, "invalid_field", f"'{name}' is required (a string).")
        return default
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{name}' must be a string.")
    if "\x00" in value:  # PostgreSQL can't store it
        raise ApiError(400, "invalid_field", f"'{name}' can't contain NUL characters.")
    unstorable = text_unstorable_reason(text=value)  # a lone surrogate, from a \ud800 escape
    if unstorable:
        raise ApiError(400, "invalid_field", f"'{name}' {unstorable}, which PIPO can't store.")
    return value


def field_bool(data: dict, name: str, *, required: bool = False, default: bool = False) -> bool:
    value = data.get(name)
    if value is None and not required:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_field", f"'{name}' must be true or false.")
    return value


def field_fraction(data: dict, name: str, *, default: float) -> float:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ApiError(400, "invalid_field", f"'{name}' must be a number between 0 and 1.")
    return float(value)


def _positive_int(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be a whole number from 1 up.")
    return int(raw)


def api_page(request: HttpRequest, items: QuerySet, serialize: Callable[[object], dict]) -> dict:
    """One page of `items` as {count, page, page_size, next, previous, results}.

    `page_size` defaults to PAGE_SIZE_DEFAULT and is capped at PAGE_SIZE_MAX; `next` and
    `previous` are full URLs keeping the other query parameters, or null.
    """
    page_size = min(_positive_int(request, "page_size", PAGE_SIZE_DEFAULT), PAGE_SIZE_MAX)
    number = _positive_int(request, "page", 1)
    paginator = Paginator(items, page_size)
    try:
        page = paginator.page(number)
    except EmptyPage:
        raise ApiError(
            404, "not_found", f"There is no page {number}; the last is {paginator.num_pages}."
        ) from None

    def link(to: int) -> str:
        query = request.GET.copy()
        query["page"] = str(to)
        query["page_size"] = str(page_size)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return {
        "count": paginator.count,
        "page": page.number,
        "page_size": page_size,
        "next": link(page.next_page_number()) if page.has_next() else None,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "results": [serialize(item) for item in page.object_list],
    }


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def unknown_endpoint(request: HttpRequest, path: str = "") -> JsonResponse:
    raise ApiError(
        404, "not_found", f"There is no API endpoint at {request.path}. See docs/api.md."
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/ (a session-signed-in script), Django's page elsewhere."""
    if not request.path.startswith(API_PREFIX):
        return django_csrf_failure(request, reason=reason)
    return api_error_response(
        ApiError(
            403,
            "csrf_failed",
            "Signed in with the session cookie, a change needs the CSRF token in the "
            "X-CSRFToken header. Or send 'Authorization: Bearer <token>' instead.",
        )
    )
