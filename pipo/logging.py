"""Log records that say which request and which conversation they belong to.

A context variable holds the ids (set by `pipo.middleware.RequestIdMiddleware` for HTTP,
by the chat consumer for a websocket, and carried into django-q2 tasks in the task
package); `LogContextFilter` copies them onto every record. `JsonFormatter` writes one
JSON object per line in production; `ContentRedactionFilter` keeps what people wrote (a
search in a URL's query string) out of the logs unless PIPO_LOG_CONTENT is on.
"""

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

CONTEXT_FIELDS = ("request_id", "conversation_id")
REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only if it is a plain token: anything else could forge log lines.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_TASK_KEY = "pipo_log_context"

_context: ContextVar[Mapping[str, str]] = ContextVar(
    "pipo_log_context", default=MappingProxyType({})
)


def request_id_from(header_value: str | None) -> str:
    """The caller's request id when it is a sane token, else a new one."""
    if header_value and _SANE_REQUEST_ID.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


def log_context_get() -> Mapping[str, str]:
    return _context.get()


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Add ids to every record logged inside the block (and in tasks it enqueues)."""
    merged = {**_context.get(), **{k: str(v) for k, v in values.items() if v is not None}}
    token = _context.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _context.reset(token)


def log_context_add(**values: object) -> None:
    """Add ids until the enclosing `log_context` block ends; only call inside one."""
    merged = {**_context.get(), **{k: str(v) for k, v in values.items() if v is not None}}
    _context.set(MappingProxyType(merged))


class LogContextFilter(logging.Filter):
    """Puts request_id and conversation_id on each record ("-" when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _context.get()
        # django.request logs a refused request after the middleware has returned: its
        # record carries the request, which carries the id.
        request = getattr(record, "request", None)
        for field in CONTEXT_FIELDS:
            if not getattr(record, field, None):
                setattr(record, field, current.get(field) or getattr(request, field, None) or "-")
        return True


class ContentRedactionFilter(logging.Filter):
    """Drops query strings from logged paths (a memory search carries what was searched)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from django.conf import settings  # this module is loaded while settings configure

        if (
            not settings.PIPO_LOG_CONTENT
            and isinstance(record.args, Mapping)
            and "path" in record.args
        ):
            path = str(record.args["path"])
            if "?" in path:
                record.args = {**record.args, "path": path.split("?", 1)[0] + "?…"}
        return True


_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request",
    "server_time",
    *CONTEXT_FIELDS,
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, "-")
            if value and value != "-":
                entry[field] = value
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, int | float | bool | str | None) else str(value)
                )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


# django-q2 signal receivers (connected in pipo/apps.py): the ids travel in the task
# package, so the worker's lines about a task carry the request and conversation that
# queued it.


def task_log_context_attach(sender: object, task: dict, **kwargs: object) -> None:
    if current := _context.get():
        task[_TASK_KEY] = dict(current)


def task_log_context_enter(sender: object, task: dict, **kwargs: object) -> None:
    task["_pipo_log_token"] = _context.set(MappingProxyType(dict(task.get(_TASK_KEY) or {})))


def task_log_context_leave(sender: object, task: dict, **kwargs: object) -> None:
    # Popped before the worker hands the task to the result queue, which pickles it.
    token = task.pop("_pipo_log_token", None)
    if token is not None:
        _context.reset(token)
