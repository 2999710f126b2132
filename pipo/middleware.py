"""Every HTTP request gets an id: in its log lines and in the X-Request-ID response header."""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from pipo.logging import REQUEST_ID_HEADER, log_context, log_context_add, request_id_from


class RequestIdMiddleware:
    """First in MIDDLEWARE, so everything after it logs with the id.

    The id is the proxy's X-Request-ID when that is a sane token, else a new one. A
    conversation's pages and API calls also log its id (from the URL).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        request.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        with log_context(request_id=request.request_id):
            response = await self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        conversation_id = view_kwargs.get("conversation_id")
        if conversation_id is not None:
            # Lives until __call__'s log_context resets to what it was before the request.
            log_context_add(conversation_id=conversation_id)
