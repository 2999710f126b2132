from django.contrib import admin
from django.urls import include, path

from pipo import views

urlpatterns = [
    path("", include("chat.urls")),
    path("accounts/", include("accounts.urls")),
    path("memory/", include("memory.urls")),
    path("api/", include("accounts.api_urls")),
    path("status/", views.status, name="status"),
    path("admin/", admin.site.urls),
]

handler404 = "pipo.views.page_not_found"
handler500 = "pipo.views.server_error"
