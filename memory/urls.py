from django.urls import path

from memory import views

app_name = "memory"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:memory_id>/forget/", views.forget, name="forget"),
]
