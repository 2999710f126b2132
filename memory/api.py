"""The memory endpoints of the JSON API (docs/api.md): list and search, create, get, edit, forget.

Thin: parse and check the JSON, call memory's selectors and services, answer JSON. Someone
else's memory id is a 404, the same as an id that does not exist.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from memory.models import Memory
from memory.selectors import MEMORY_SORTS, memory_get, memory_search
from memory.services import (
    MEMORY_TEXT_MAX_CHARS,
    MemoryTextRejected,
    memory_create,
    memory_forget_one,
    memory_pin_set,
    memory_text_update,
)
from pipo.api import (
    ApiError,
    api_not_found,
    api_page,
    api_view,
    field_bool,
    field_fraction,
    field_text,
    fields_allowed,
    json_body,
)

QUERY_MAX_CHARS = 200
DEFAULT_IMPORTANCE = 0.5


def memory_json(memory: Memory) -> dict:
    return {
        "id": memory.pk,
        "text": memory.text,
        "kind": memory.kind,
        "importance": memory.importance,
        "strength_days": memory.strength,
        "retention": round(memory.retention(), 4),
        "pinned": memory.pinned,
        "access_count": memory.access_count,
        "said_at": memory.said_at,
        "last_accessed_at": memory.last_accessed_at,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
        "source_message_id": memory.source_message_id,
        "source_message_ids": memory.source_message_ids,
        "superseded_by": memory.superseded_by_id,
        "merged_into": memory.merged_into_id,
        "vector_status": memory.vector_status,
    }


def _kind(value: object, *, default: str | None) -> str | None:
    if value in (None, ""):
        return default
    if value not in Memory.Kind.values:
        raise ApiError(
            400, "invalid_field", f"'kind' must be one of: {', '.join(Memory.Kind.values)}."
        )
    return value


def _memory_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ApiError(
            400, "invalid_field", "A memory can't be empty. Write what PIPO should remember."
        )
    if len(text) > MEMORY_TEXT_MAX_CHARS:
        raise ApiError(
            400,
            "invalid_field",
            f"A memory can have at most {MEMORY_TEXT_MAX_CHARS:,} characters "
            f"(this one has {len(text):,}).",
        )
    return text


def _memory_id_of(request: HttpRequest, memory_id: int) -> Memory:
    memory = memory_get(user=request.user, memory_id=memory_id)
    if memory is None:
        raise api_not_found("memory")
    return memory


@api_view(["GET", "POST"])
def memories(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _memory_create(request)
    query = request.GET.get("q", "")
    if "\x00" in query:
        raise ApiError(400, "invalid_parameter", "'q' can't contain NUL characters.")
    if len(query) > QUERY_MAX_CHARS:
        raise ApiError(
            400, "invalid_parameter", f"'q' can have at most {QUERY_MAX_CHARS} characters."
        )
    sort = request.GET.get("sort") or "recent"
    if sort not in MEMORY_SORTS:
        raise ApiError(
            400, "invalid_parameter", f"'sort' must be one of: {', '.join(MEMORY_SORTS)}."
        )
    found = memory_search(
        user=request.user,
        query=query,
        kind=_kind(request.GET.get("kind"), default=None),
        sort=sort,
    )
    return JsonResponse(api_page(request, found, memory_json))


def _memory_create(request: HttpRequest) -> JsonResponse:
    data = json_body(request)
    fields_allowed(data, ["text", "kind", "importance", "pinned"])
    text = _memory_text(field_text(data, "text", required=True))
    kind = _kind(data.get("kind"), default=Memory.Kind.OTHER)
    importance = field_fraction(data, "importance", default=DEFAULT_IMPORTANCE)
    pinned = field_bool(data, "pinned")
    memory = memory_create(
        user=request.user, text=text, said_at=timezone.now(), importance=importance, kind=kind
    )
    if pinned:
        memory = memory_pin_set(user=request.user, memory_id=memory.pk, pinned=True)
    return JsonResponse(memory_json(memory), status=201)


@api_view(["GET", "PATCH", "DELETE"])
def memory_detail(request: HttpRequest, memory_id: int) -> HttpResponse:
    memory = _memory_id_of(request, memory_id)
    if request.method == "DELETE":
        memory_forget_one(user=request.user, memory_id=memory.pk)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        memory = _memory_edit(request, memory)
    return JsonResponse(memory_json(memory))


def _memory_edit(request: HttpRequest, memory: Memory) -> Memory:
    data = json_body(request)
    fields_allowed(data, ["text", "pinned"])
    if not data:
        raise ApiError(400, "invalid_field", "Send 'text', 'pinned' or both.")
    text = field_text(data, "text", required=True) if "text" in data else None
    pinned = field_bool(data, "pinned", required=True) if "pinned" in data else None
    if text is not None:
        try:  # the text first: if it is refused, the pin is not changed either
            memory = memory_text_update(user=request.user, memory_id=memory.pk, text=text)
        except MemoryTextRejected as exc:
            raise ApiError(400, "invalid_field", exc.message) from None
    if pinned is not None:
        memory = memory_pin_set(user=request.user, memory_id=memory.pk, pinned=pinned)
    return memory
