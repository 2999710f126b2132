from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from chat.models import Conversation, DailySummary, Message
from chat.summaries import summary_day_write
from pipo.llm import LLMError


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("role", "status", "content", "model", "reply_tokens", "first_token_ms", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "created_at", "updated_at")
    search_fields = ("title", "user__email")
    list_select_related = ("user",)
    inlines = (MessageInline,)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("conversation", "role", "status", "model", "reply_tokens", "created_at")
    list_filter = ("role", "status", "model")
    search_fields = ("content", "conversation__title", "conversation__user__email")
    list_select_related = ("conversation",)
    readonly_fields = ("created_at",)


@admin.register(DailySummary)
class DailySummaryAdmin(admin.ModelAdmin):
    """Read-only: the text is the model's; rewrite it with the action (or `summarize`)."""

    list_display = ("day", "user", "short_text", "conversation_count", "model", "updated_at")
    list_filter = ("day", "model")
    search_fields = ("text", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "day"
    fields = (
        "user", "day", "text", "conversation_count", "message_ids", "memory_id", "model",
        "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields
    actions = ("rewrite",)

    @admin.display(description="summary")
    def short_text(self, summary: DailySummary) -> str:
        return summary.text if len(summary.text) <= 90 else summary.text[:89] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Rewrite with the language model")
    def rewrite(self, request: HttpRequest, queryset: QuerySet[DailySummary]) -> None:
        rewritten = 0
        for summary in queryset.select_related("user"):
            try:
                if summary_day_write(user=summary.user, day=summary.day) is not None:
                    rewritten += 1
            except LLMError as exc:
                self.message_user(request, f"{summary}: {exc}", messages.ERROR)
                return
        self.message_user(request, f"Rewrote {rewritten} summaries.", messages.SUCCESS)
