from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat.models import Conversation
from chat.selectors import conversation_get, conversation_list, message_list
from chat.services import (
    MessageRejected,
    conversation_create,
    conversation_delete,
    conversation_rename,
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
    conversation = conversation_create(user=request.user)
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
