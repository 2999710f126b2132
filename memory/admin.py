from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from memory.models import Consolidation, ForgetLog, Memory, MemorySpace, Portrait
from memory.services import memory_forget, memory_pin, memory_reinforce, memory_vectors_resync


class MergedFilter(admin.SimpleListFilter):
    title = "long-term consolidation"
    parameter_name = "merged"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("merged", "merged into another"), ("survivor", "merged others in")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Memory]) -> QuerySet[Memory]:
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "survivor":
            return queryset.filter(merged_from__isnull=False).distinct()
        return queryset


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    list_display = (
        "short_text",
        "user",
        "kind",
        "importance",
        "strength",
        "access_count",
        "current_retention",
        "vector_status",
        "pinned",
        "merged_into",
        "created_at",
        "last_accessed_at",
    )
    list_filter = (MergedFilter, "kind", "vector_status", "pinned", "user")
    search_fields = ("text", "user__email", "source_label")
    list_select_related = ("user",)
    readonly_fields = (
        "current_retention",
        "source_link",
        "key_text",
        "vector_status",
        "embedding_model",
        "access_count",
        "last_accessed_at",
        "source_message_ids",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("user", "superseded_by", "merged_into")
    actions = ("forget", "pin", "unpin", "reinforce", "resync")

    @admin.display(description="text")
    def short_text(self, memory: Memory) -> str:
        text = memory.text if len(memory.text) <= 90 else memory.text[:89] + "…"
        if memory.superseded_by_id:
            return format_html(
                '<s title="superseded by memory {}">{}</s>', memory.superseded_by_id, text
            )
        if memory.merged_into_id:
            return format_html(
                '<s title="merged into memory {}">{}</s>', memory.merged_into_id, text
            )
        return text

    @admin.display(description="retention now")
    def current_retention(self, memory: Memory) -> str:
        return f"{memory.retention():.2f}"

    @admin.display(description="source message")
    def source_link(self, memory: Memory) -> str:
        if memory.source_message_id is None:
            return memory.source_label or "—"
        try:
            url = reverse("admin:chat_message_change", args=[memory.source_message_id])
        except NoReverseMatch:
            return str(memory.source_message_id)
        return format_html('<a href="{}">message {}</a>', url, memory.source_message_id)

    @admin.action(description="Forget (delete the memory and its vector)")
    def forget(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        count = memory_forget(memory_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Forgot {count} memories.", messages.SUCCESS)

    @admin.action(description="Pin (never fades)")
    def pin(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        count = memory_pin(memory_ids=list(queryset.values_list("pk", flat=True)), pinned=True)
        self.message_user(request, f"Pinned {count} memories.", messages.SUCCESS)

    @admin.action(description="Unpin")
    def unpin(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        count = memory_pin(memory_ids=list(queryset.values_list("pk", flat=True)), pinned=False)
        self.message_user(request, f"Unpinned {count} memories.", messages.SUCCESS)

    @admin.action(description="Reinforce (as if recalled now)")
    def reinforce(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        memory_reinforce(memory_ids=ids)
        self.message_user(request, f"Reinforced {len(ids)} memories.", messages.SUCCESS)

    @admin.action(description="Resync vectors that are pending or failed")
    def resync(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        synced = memory_vectors_resync()
        self.message_user(request, f"Synced {synced} vectors.", messages.SUCCESS)


@admin.register(MemorySpace)
class MemorySpaceAdmin(admin.ModelAdmin):
    list_display = ("collection", "user", "embedding_model", "created_at")
    search_fields = ("collection", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("collection", "embedding_model", "created_at")


@admin.register(Consolidation)
class ConsolidationAdmin(admin.ModelAdmin):
    list_display = ("source_message_id", "user", "outcome", "importance", "memory", "created_at")
    list_filter = ("outcome",)
    list_select_related = ("user", "memory")
    raw_id_fields = ("user", "memory")


@admin.register(Portrait)
class PortraitAdmin(admin.ModelAdmin):
    list_display = ("user", "short_text", "memory_count", "model", "updated_at")
    search_fields = ("text", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("memory_count", "model", "updated_at")
    raw_id_fields = ("user",)

    @admin.display(description="text")
    def short_text(self, portrait: Portrait) -> str:
        return portrait.text if len(portrait.text) <= 90 else portrait.text[:89] + "…"


@admin.register(ForgetLog)
class ForgetLogAdmin(admin.ModelAdmin):
    list_display = (
        "memory_id",
        "user",
        "kind",
        "importance",
        "retention",
        "reason",
        "forgotten_at",
    )
    list_filter = ("kind", "user")
    search_fields = ("text", "user__email", "reason")
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
