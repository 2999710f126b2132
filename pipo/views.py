from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_GET

from pipo.status import status_all


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    template = "pipo/status.html#components" if request.htmx else "pipo/status.html"
    return render(request, template, {"components": status_all()})


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request: whatever broke may be what context processors need.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
