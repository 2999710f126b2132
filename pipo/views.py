from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pipo.status import readiness_check, status_all


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing, so a slow database can't fail it."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: each part's status, latency and detail; 503 when a required one is down."""
    readiness = readiness_check()
    return JsonResponse(readiness.as_dict(), status=readiness.http_status)


@never_cache
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        # Staff only: the page names hosts and versions. Others see no page at all.
        raise Http404("No such page.")
    template = "pipo/status.html#components" if request.htmx else "pipo/status.html"
    return render(request, template, {"components": status_all()})


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request: whatever broke may be what context processors need.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
