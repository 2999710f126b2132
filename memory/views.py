from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from memory.models import Memory
from memory.selectors import (
    MEMORY_SORTS,
    memory_get,
    memory_retention_curve,
    memory_search,
    portrait_get,
)
from memory.services import (
    MEMORY_TEXT_MAX_CHARS,
    MemoryTextRejected,
    memory_forget_all,
    memory_forget_one,
    memory_pin_set,
    memory_text_update,
)

PAGE_SIZE = 20
FORGET_ALL_WORD = "FORGET"
VECTOR_PENDING_NOTE = (
    "Saved. PIPO can't reach its vector store right now, so the new wording is found by "
    "its words only until the vector is written (it retries every minute)."
)


def _own_memory(request: HttpRequest, memory_id: int) -> Memory:
    memory = memory_get(user=request.user, memory_id=memory_id)
    if memory is None:
        raise Http404("No such memory.")
    return memory


def _item_context(memory: Memory, **extra) -> dict:
    return {"m": memory, "curve": memory_retention_curve(memory=memory), **extra}


def _render_item(request: HttpRequest, memory: Memory, *, note: str = "") -> HttpResponse:
    return render(request, "memory/index.html#memory-item", _item_context(memory, note=note))


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    kind = request.GET.get("kind") or ""
    kind = kind if kind in Memory.Kind.values else ""
    sort = request.GET.get("sort") or "recent"
    sort = sort if sort in MEMORY_SORTS else "recent"
    history = request.GET.get("history") == "1"
    found = memory_search(
        user=request.user, query=query, kind=kind or None, sort=sort, history=history
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    context = {
        "page": page,
        "items": [(m, memory_retention_curve(memory=m, now=now)) for m in page],
        "q": query,
        "kind": kind,
        "sort": sort,
        "history": history,
        "kinds": Memory.Kind.choices,
        "sorts": [
            ("recent", "Most recent"),
            ("importance", "Importance"),
            ("strength", "Strength"),
        ],
    }
    if request.htmx:
        return render(request, "memory/index.html#memory-list", context)
    context |= {"portrait": portrait_get(user=request.user), "text_max": MEMORY_TEXT_MAX_CHARS}
    return render(request, "memory/index.html", context)


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, memory_id: int) -> HttpResponse:
    memory = _own_memory(request, memory_id)
    context = _item_context(memory, text=memory.text, text_max=MEMORY_TEXT_MAX_CHARS)
    if request.method == "GET":
        if request.htmx and request.GET.get("cancel"):
            return _render_item(request, memory)
        template = "memory/edit.html#edit-form" if request.htmx else "memory/edit.html"
        return render(request, template, context)
    text = request.POST.get("text", "")
    try:
        memory = memory_text_update(user=request.user, memory_id=memory.pk, text=text)
    except MemoryTextRejected as exc:
        context |= {"error": exc.message, "text": text}
        template = "memory/edit.html#edit-form" if request.htmx else "memory/edit.html"
        return render(request, template, context, status=422)
    except Memory.DoesNotExist as exc:  # forgotten meanwhile, e.g. in another tab
        raise Http404("No such memory.") from exc
    note = VECTOR_PENDING_NOTE if memory.vector_status != Memory.VectorStatus.SYNCED else ""
    if request.htmx:
        return _render_item(request, memory, note=note)
    messages.success(request, note or "Memory updated.")
    return redirect("memory:index")


@require_POST
def pin(request: HttpRequest, memory_id: int) -> HttpResponse:
    memory = _own_memory(request, memory_id)
    memory = memory_pin_set(
        user=request.user, memory_id=memory.pk, pinned=request.POST.get("pinned") == "1"
    )
    if request.htmx:
        return _render_item(request, memory)
    return redirect("memory:index")


@require_POST
def forget(request: HttpRequest, memory_id: int) -> HttpResponse:
    memory = _own_memory(request, memory_id)
    memory_forget_one(user=request.user, memory_id=memory.pk)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, "Forgotten.")
    return redirect("memory:index")


@require_http_methods(["GET", "POST"])
def forget_all(request: HttpRequest) -> HttpResponse:
    context = {
        "word": FORGET_ALL_WORD,
        "count": memory_search(user=request.user, history=True).count(),
    }
    if request.method == "GET":
        return render(request, "memory/forget_all.html", context)
    if request.POST.get("confirm", "").strip().upper() != FORGET_ALL_WORD:
        context["error"] = f"Type {FORGET_ALL_WORD} to confirm. Nothing was forgotten."
        return render(request, "memory/forget_all.html", context, status=422)
    forgotten = memory_forget_all(user=request.user)
    messages.success(
        request,
        f"PIPO forgot {forgotten} memor{'y' if forgotten == 1 else 'ies'} and its portrait of you.",
    )
    return redirect("memory:index")
