from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat.models import Conversation
from chat.portability import account_export_json, account_import
from chat.selectors import conversation_get, conversation_list, message_get, message_list
from chat.services import (
    MessageRejected,
    conversation_create,
    conversation_delete,
    conversation_rename,
    conversation_temporary_set,
)
from memory.selectors import memory_noted_message_ids
from pipo.llm import llm_model_names


def _own_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    conversation = conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    conversations = conversation_list(user=request.user)
    latest = conversations.first()
    if latest is not None:
        return redirect("chat:room", latest.pk)
    return render(request, "chat/index.html", {"conversations": conversations})


@require_POST
def new(request: HttpRequest) -> HttpResponse:
    conversation = conversation_create(
        user=request.user, temporary=request.POST.get("temporary") == "1"
    )
    if request.htmx:
        return HttpResponseClientRedirect(conversation.get_absolute_url())
    return redirect(conversation.get_absolute_url())


@require_GET
def room(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    chat_messages = list(message_list(conversation=conversation))
    context = {
        "conversation": conversation,
        "chat_messages": chat_messages,
        "noted_ids": memory_noted_message_ids(
            user=request.user, message_ids=[m.pk for m in chat_messages if m.role == "user"]
        ),
        # The #messages partial (reloaded when the socket opens) names it in its hint too.
        "default_model": settings.OLLAMA_MODEL,
    }
    if request.htmx:
        return render(request, "chat/room.html#messages", context)
    models = llm_model_names()
    context |= {
        "conversations": conversation_list(user=request.user),
        "models": models,
        "default_model": settings.OLLAMA_MODEL if settings.OLLAMA_MODEL in models else models[0],
        "max_chars": settings.PIPO_MAX_MESSAGE_CHARS,
    }
    return render(request, "chat/room.html", context)


@require_http_methods(["GET", "POST"])
def rename(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    context: dict = {"c": conversation, "conversation": conversation}
    if request.method == "GET":
        if request.GET.get("cancel"):
            return render(request, "chat/_conversation_item.html", context)
        return render(request, "chat/_rename_form.html", context)
    title = request.POST.get("title", "")
    try:
        conversation_rename(conversation=conversation, title=title)
    except MessageRejected as exc:
        context |= {"error": exc.message, "title": title}
        return render(request, "chat/_rename_form.html", context)
    if request.htmx:
        return render(request, "chat/_conversation_item.html", context)
    return redirect(conversation.get_absolute_url())


@require_POST
def delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation_delete(conversation=_own_conversation(request, conversation_id))
    if request.htmx:
        return HttpResponseClientRedirect("/")
    return redirect("chat:index")


@require_POST
def temporary(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    context: dict = {"conversation": conversation, "c": conversation}
    status = 200
    try:
        conversation_temporary_set(
            conversation=conversation, temporary=request.POST.get("temporary") == "1"
        )
    except MessageRejected as exc:
        context["temporary_error"] = exc.message
        status = 422
    if request.htmx:
        return render(request, "chat/_temporary_switched.html", context, status=status)
    return redirect(conversation.get_absolute_url())


@require_GET
def message(request: HttpRequest, message_id: int) -> HttpResponse:
    """A message's permanent link (a memory's source): its place in its conversation."""
    found = message_get(message_id=message_id)
    if found is None or found.conversation.user_id != request.user.pk:
        raise Http404("No such message.")
    return redirect(f"{found.conversation.get_absolute_url()}#message-{found.pk}")


@require_http_methods(["GET", "POST"])
def data(request: HttpRequest) -> HttpResponse:
    """The "Your data" page: export everything, or import an export file (POST)."""
    limit = settings.PIPO_IMPORT_MAX_BYTES
    context: dict = {"max_megabytes": limit / 1024 / 1024}
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["upload_error"] = "Choose a PIPO export file (.json) to import."
        elif upload.size > limit:
            context["upload_error"] = (
                f"That file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{limit / 1024 / 1024:.0f} MB (PIPO_IMPORT_MAX_BYTES). Nothing was imported."
            )
        else:
            context["report"] = account_import(user=request.user, data=upload.read())
        failed = "upload_error" in context or not context["report"].ok
        template = "chat/data.html#import-result" if request.htmx else "chat/data.html"
        return render(request, template, context, status=422 if failed else 200)
    return render(request, "chat/data.html", context)


@require_GET
def data_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        account_export_json(user=request.user), content_type="application/json; charset=utf-8"
    )
    filename = f"pipo-export-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
