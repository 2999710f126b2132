from django.urls import path

from memory import views

app_name = "memory"

urlpatterns = [
    path("", views.index, name="index"),
    path("forget-all/", views.forget_all, name="forget_all"),
    path("<int:memory_id>/edit/", views.edit, name="edit"),
    path("<int:memory_id>/pin/", views.pin, name="pin"),
    path("<int:memory_id>/forget/", views.forget, name="forget"),
]
