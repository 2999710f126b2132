from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from memory.models import Memory
from memory.selectors import memory_list
from memory.services import memory_forget


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    if kind not in Memory.Kind.values:
        kind = None
    context = {"memories": memory_list(user=request.user, kind=kind)[:500], "kind": kind,
               "kinds": Memory.Kind.choices}  # fmt: skip
    template = "memory/index.html#memory-list" if request.htmx else "memory/index.html"
    return render(request, template, context)


@require_POST
def forget(request: HttpRequest, memory_id: int) -> HttpResponse:
    # Only the person's own memory: someone else's id deletes nothing.
    own = memory_list(user=request.user).filter(pk=memory_id).values_list("pk", flat=True)
    memory_forget(memory_ids=list(own))
    if request.htmx:
        return HttpResponse("")
    return redirect("memory:index")
