from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    readonly_fields = ("memory_space", "memory_space_ready", "created_at", "updated_at")


@admin.register(User)
class PipoUserAdmin(UserAdmin):
    list_display = ("email", "username", "supabase_id", "is_staff", "date_joined", "last_login")
    search_fields = ("email", "username", "supabase_id")
    readonly_fields = ("supabase_id",)
    fieldsets = (*UserAdmin.fieldsets, ("Supabase", {"fields": ("supabase_id",)}))
    inlines = (ProfileInline,)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "assistant_name", "memory_space", "memory_space_ready", "created_at")
    list_filter = ("memory_space_ready",)
    search_fields = ("user__email", "assistant_name", "memory_space")
    list_select_related = ("user",)
    readonly_fields = ("memory_space", "memory_space_ready", "created_at", "updated_at")
