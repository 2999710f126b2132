from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("c/new/", views.new, name="new"),
    path("c/<int:conversation_id>/", views.room, name="room"),
    path("c/<int:conversation_id>/rename/", views.rename, name="rename"),
    path("c/<int:conversation_id>/delete/", views.delete, name="delete"),
    path("c/<int:conversation_id>/temporary/", views.temporary, name="temporary"),
    path("messages/<int:message_id>/", views.message, name="message"),
    path("data/", views.data, name="data"),
    path("data/export/", views.data_export, name="data_export"),
]
