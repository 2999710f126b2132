from django.urls import path

from accounts import views

app_name = "accounts_api"

urlpatterns = [
    path("me", views.api_me, name="me"),
]
