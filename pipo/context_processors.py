from django.conf import settings
from django.http import HttpRequest


def pipo(request: HttpRequest) -> dict:
    return {"SUPABASE_ENABLED": bool(settings.SUPABASE_URL)}
