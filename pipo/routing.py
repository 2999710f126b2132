"""Websocket routes of every app, gathered for asgi.py."""

from chat.routing import websocket_urlpatterns as chat_routes

websocket_urlpatterns = [*chat_routes]
