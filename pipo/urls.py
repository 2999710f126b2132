from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from pipo import views

urlpatterns = [
    path("", include("chat.urls")),
    path("accounts/", include("accounts.urls")),
    path("memories/", include("memory.urls")),
    re_path(
        r"^memory/(?P<rest>.*)$",
        RedirectView.as_view(url="/memories/%(rest)s", permanent=True, query_string=True),
    ),
    path("api/", include("accounts.api_urls")),
    path("api/", include("pipo.api_urls")),  # after accounts': ends in a JSON 404
    path("status/", views.status, name="status"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

handler404 = "pipo.views.page_not_found"
handler500 = "pipo.views.server_error"
