"""Websocket routes of every app, gathered for asgi.py (the chat consumer joins here)."""

websocket_urlpatterns: list = []
