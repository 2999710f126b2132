"""Export and import of everything PIPO keeps about a person, as one JSON file.

Chat is the top app, so this module may read and write accounts (the persona), memory
(memories, the portrait) and its own tables (conversations, messages, daily summaries).
An import is checked whole before anything is written: every problem is reported with
where it is in the file, and then nothing is imported. Otherwise one transaction writes it
all; the memories' vectors follow after commit.

Inside the file, `id`s are references within the file (a memory's `source_messages`, a
summary's `messages`, a memory's `superseded_by`), never database ids of the importer.
"""

import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import profile_get
from accounts.services import (
    ASSISTANT_NAME_MAX_LENGTH,
    INSTRUCTIONS_MAX_LENGTH,
    TONE_MAX_LENGTH,
    TRAIT_MAX_LENGTH,
    TRAITS_MAX,
    persona_update,
)
from chat.models import Conversation, DailySummary, Message
from memory.models import Memory
from memory.selectors import memory_all, portrait_get
from memory.services import (
    MEMORY_TEXT_MAX_CHARS,
    MemoryImport,
    memory_import,
    portrait_restore,
)
from pipo.text import text_unstorable_reason

EXPORT_FORMAT = "pipo-export"
EXPORT_VERSION = 1
MAX_PROBLEMS = 50
TITLE_MAX = 120
MODEL_MAX = 100
MESSAGE_MAX = 200_000
ERROR_MAX = 5_000
KEY_TEXT_MAX = 40_000
SUMMARY_MAX = 50_000
PORTRAIT_MAX = 10_000
SPEAKER_MAX = 120
SOURCE_LABEL_MAX = 64
STRENGTH_MAX = 1_000_000.0


@dataclass(frozen=True)
class ImportProblem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or why it did nothing (`problems` not empty)."""

    problems: list[ImportProblem] = field(default_factory=list)
    more_problems: int = 0  # found beyond MAX_PROBLEMS, not listed
    persona: bool = False
    portrait: bool = False
    conversations: int = 0
    conversations_skipped: int = 0
    messages: int = 0
    memories: int = 0
    memories_skipped: int = 0
    summaries: int = 0
    summaries_skipped: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _sources(memory: Memory) -> list[int]:
    first = [memory.source_message_id] if memory.source_message_id else []
    return list(dict.fromkeys([*first, *(memory.source_message_ids or [])]))


def account_export(*, user: User) -> dict:
    """All of the person's data as one JSON-ready dict (format "pipo-export", version 1)."""
    profile = profile_get(user=user)
    portrait = portrait_get(user=user)
    conversations = (
        Conversation.objects.filter(user=user).order_by("pk").prefetch_related("messages")
    )
    exported_conversations = []
    message_ids: set[int] = set()
    for conversation in conversations:
        messages = sorted(conversation.messages.all(), key=lambda m: (m.created_at, m.pk))
        message_ids.update(m.pk for m in messages)
        exported_conversations.append(
            {
                "id": conversation.pk,
                "title": conversation.title,
                "temporary": conversation.temporary,
                "created_at": _when(conversation.created_at),
                "updated_at": _when(conversation.updated_at),
                "messages": [
                    {
                        "id": m.pk,
                        "role": m.role,
                        "content": m.content,
                        "status": m.status,
                        "error": m.error,
                        "model": m.model,
                        "prompt_tokens": m.prompt_tokens,
                        "reply_tokens": m.reply_tokens,
                        "first_token_ms": m.first_token_ms,
                        "duration_ms": m.duration_ms,
                        "created_at": _when(m.created_at),
                    }
                    for m in messages
                ],
            }
        )
    memories = list(memory_all(user=user))
    memory_ids = {m.pk for m in memories}

    def present(ids) -> list[int]:
        # A message of a deleted conversation is not in the file: no dangling reference.
        return [i for i in ids if i in message_ids]

    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _when(timezone.now()),
        "persona": {
            "assistant_name": profile.assistant_name,
            "tone": profile.tone,
            "traits": list(profile.traits or []),
            "instructions": profile.instructions,
        }
        if profile is not None
        else None,
        "portrait": {
            "text": portrait.text,
            "memory_count": portrait.memory_count,
            "model": portrait.model,
            "updated_at": _when(portrait.updated_at),
        }
        if portrait is not None
        else None,
        "memories": [
            {
                "id": m.pk,
                "text": m.text,
                "key_text": m.key_text,
                "kind": m.kind,
                "importance": m.importance,
                "strength": m.strength,
                "access_count": m.access_count,
                "pinned": m.pinned,
                "said_at": _when(m.said_at),
                "last_accessed_at": _when(m.last_accessed_at),
                "speaker": m.speaker,
                "source_label": m.source_label,
                "source_messages": present(_sources(m)),
                "superseded_by": m.superseded_by_id if m.superseded_by_id in memory_ids else None,
                "merged_into": m.merged_into_id if m.merged_into_id in memory_ids else None,
            }
            for m in memories
        ],
        "summaries": [
            {
                "day": s.day.isoformat(),
                "text": s.text,
                "conversation_count": s.conversation_count,
                "model": s.model,
                "messages": present(s.message_ids or []),
                "memory": s.memory_id if s.memory_id in memory_ids else None,
            }
            for s in DailySummary.objects.filter(user=user).order_by("day")
        ],
        "conversations": exported_conversations,
    }


def account_export_json(*, user: User) -> bytes:
    return json.dumps(account_export(user=user), ensure_ascii=False, indent=1).encode()


class _Checker:
    """Walks the decoded file, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[ImportProblem] = []
        self.more = 0

    def problem(self, path: str, reason: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ImportProblem(path, reason))
        else:
            self.more += 1

    def dict_at(self, value, path: str) -> dict | None:
        if not isinstance(value, dict):
            self.problem(path, "must be an object")
            return None
        return value

    def list_at(self, record: dict, key: str, path: str) -> list:
        value = record.get(key, [])
        if not isinstance(value, list):
            self.problem(f"{path}.{key}" if path else key, "must be a list")
            return []
        return value

    def text(self, record: dict, key: str, path: str, *, limit: int, required=False) -> str:
        value = record.get(key, "")
        if not isinstance(value, str):
            self.problem(f"{path}.{key}", "must be text")
            return ""
        unstorable = text_unstorable_reason(text=value)
        if required and not value.strip():
            self.problem(f"{path}.{key}", "can't be empty")
        elif len(value) > limit:
            self.problem(
                f"{path}.{key}", f"must be at most {limit:,} characters (it has {len(value):,})"
            )
        elif unstorable:
            self.problem(f"{path}.{key}", f"{unstorable}, which PIPO can't store")
        return value

    def choice(self, record: dict, key: str, path: str, choices: list[str], default: str) -> str:
        value = record.get(key, default)
        if value not in choices:
            self.problem(f"{path}.{key}", "must be one of " + ", ".join(choices))
            return default
        return value

    def boolean(self, record: dict, key: str, path: str) -> bool:
        value = record.get(key, False)
        if not isinstance(value, bool):
            self.problem(f"{path}.{key}", "must be true or false")
            return False
        return value

    def count(self, record: dict, key: str, path: str, *, nullable=False) -> int | None:
        value = record.get(key, None if nullable else 0)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            self.problem(f"{path}.{key}", "must be a whole number, 0 or more")
            return None if nullable else 0
        return value

    def number(
        self, record: dict, key: str, path: str, *, low: float, high: float, default: float,
        above_low: bool = False,
    ) -> float:  # fmt: skip
        value = record.get(key, default)
        numeric = not isinstance(value, bool) and isinstance(value, int | float)
        if not numeric or not (low < value if above_low else low <= value) or value > high:
            bounds = (
                f"over {low:g} and at most {high:g}"
                if above_low
                else f"between {low:g} and {high:g}"
            )
            self.problem(f"{path}.{key}", f"must be a number {bounds}")
            return default
        return float(value)

    def moment(self, record: dict, key: str, path: str, *, nullable=False) -> datetime | None:
        value = record.get(key)
        if value is None and nullable:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        try:  # a time that falls off the calendar once moved to UTC can't be stored
            parsed = parsed.astimezone(UTC) if parsed and parsed.tzinfo else parsed
        except OverflowError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.problem(
                f"{path}.{key}",
                "must be an ISO 8601 date and time with a timezone, e.g. 2025-05-01T09:30:00+00:00",
            )
            return None
        return parsed

    def reference(self, value, path: str, known: set[int], what: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be the id of a {what} in this file")
            return None
        if value not in known:
            self.problem(path, f"no {what} with id {value} in this file")
            return None
        return value

    def unique_id(self, record: dict, path: str, seen: set[int]) -> int | None:
        value = record.get("id")
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{path}.id", "must be a whole number")
            return None
        if value in seen:
            self.problem(f"{path}.id", f"{value} is used twice")
            return None
        seen.add(value)
        return value


@dataclass
class _Parsed:
    persona: dict | None = None
    portrait: dict | None = None
    conversations: list[dict] = field(default_factory=list)
    memories: list[dict] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)


def _decode(data: bytes, check: _Checker) -> dict | None:
    limit = settings.PIPO_IMPORT_MAX_BYTES
    if len(data) > limit:
        check.problem(
            "file", f"is {len(data):,} bytes; the limit is {limit:,} (PIPO_IMPORT_MAX_BYTES)"
        )
        return None
    try:
        decoded = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        check.problem("file", "is not UTF-8 text: is it a PIPO export?")
        return None
    except json.JSONDecodeError as exc:
        check.problem(
            "file", f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        )
        return None
    except RecursionError:
        check.problem("file", "is nested too deeply to be a PIPO export")
        return None
    root = check.dict_at(decoded, "file")
    if root is None:
        return None
    if root.get("format") != EXPORT_FORMAT:
        check.problem("format", f'must be "{EXPORT_FORMAT}": this is not a PIPO export')
        return None
    version = root.get("version")
    if isinstance(version, bool) or version != EXPORT_VERSION:
        check.problem("version", f"is {version!r}; this PIPO reads version {EXPORT_VERSION}")
        return None
    return root


def _check_persona(value, check: _Checker) -> dict | None:
    if value is None:
        return None
    record = check.dict_at(value, "persona")
    if record is None:
        return None
    persona = {
        "assistant_name": check.text(
            record, "assistant_name", "persona", limit=ASSISTANT_NAME_MAX_LENGTH, required=True
        ),
        "tone": check.text(record, "tone", "persona", limit=TONE_MAX_LENGTH),
        "instructions": check.text(
            record, "instructions", "persona", limit=INSTRUCTIONS_MAX_LENGTH
        ),
        "traits": [],
    }
    traits = check.list_at(record, "traits", "persona")
    if len(traits) > TRAITS_MAX:
        check.problem("persona.traits", f"has {len(traits)} traits; the limit is {TRAITS_MAX}")
    for i, trait in enumerate(traits):
        if (
            not isinstance(trait, str)
            or len(trait) > TRAIT_MAX_LENGTH
            or text_unstorable_reason(text=trait)
        ):
            check.problem(
                f"persona.traits[{i}]", f"must be text of at most {TRAIT_MAX_LENGTH} characters"
            )
        else:
            persona["traits"].append(trait)
    return persona


def _check_portrait(value, check: _Checker) -> dict | None:
    if value is None:
        return None
    record = check.dict_at(value, "portrait")
    if record is None:
        return None
    return {
        "text": check.text(record, "text", "portrait", limit=PORTRAIT_MAX),
        "memory_count": check.count(record, "memory_count", "portrait"),
        "model": check.text(record, "model", "portrait", limit=MODEL_MAX),
    }


def _check_conversations(values: list, check: _Checker, message_ids: set[int]) -> list[dict]:
    conversations, seen = [], set()
    roles, statuses = Message.Role.values, Message.Status.values
    for i, value in enumerate(values):
        path = f"conversations[{i}]"
        record = check.dict_at(value, path)
        if record is None:
            continue
        conversation = {
            "id": check.unique_id(record, path, seen),
            "title": check.text(record, "title", path, limit=TITLE_MAX),
            "temporary": check.boolean(record, "temporary", path),
            "created_at": check.moment(record, "created_at", path),
            "updated_at": check.moment(record, "updated_at", path),
            "messages": [],
        }
        for j, item in enumerate(check.list_at(record, "messages", path)):
            message_path = f"{path}.messages[{j}]"
            message = check.dict_at(item, message_path)
            if message is None:
                continue
            conversation["messages"].append(
                {
                    "id": check.unique_id(message, message_path, message_ids),
                    "role": check.choice(message, "role", message_path, roles, "user"),
                    "content": check.text(message, "content", message_path, limit=MESSAGE_MAX),
                    # A reply cut off mid-stream by the export is kept as stopped.
                    "status": check.choice(message, "status", message_path, statuses, "complete"),
                    "error": check.text(message, "error", message_path, limit=ERROR_MAX),
                    "model": check.text(message, "model", message_path, limit=MODEL_MAX),
                    **{
                        key: check.count(message, key, message_path, nullable=True)
                        for key in (
                            "prompt_tokens",
                            "reply_tokens",
                            "first_token_ms",
                            "duration_ms",
                        )
                    },
                    "created_at": check.moment(message, "created_at", message_path),
                }
            )
        conversations.append(conversation)
    return conversations


def _check_memories(values: list, check: _Checker, message_ids: set[int]) -> list[dict]:
    memories, seen = [], set()
    records = []
    for i, value in enumerate(values):
        path = f"memories[{i}]"
        record = check.dict_at(value, path)
        if record is not None:
            check.unique_id(record, path, seen)
            records.append((path, record))
    for path, record in records:
        memory = {
            "file_id": record.get("id"),
            "text": check.text(record, "text", path, limit=MEMORY_TEXT_MAX_CHARS, required=True),
            "key_text": check.text(record, "key_text", path, limit=KEY_TEXT_MAX),
            "kind": check.choice(record, "kind", path, Memory.Kind.values, Memory.Kind.OTHER),
            "importance": check.number(record, "importance", path, low=0, high=1, default=0.5),
            "strength": check.number(
                record, "strength", path, low=0, high=STRENGTH_MAX, default=1.0, above_low=True
            ),
            "access_count": check.count(record, "access_count", path),
            "pinned": check.boolean(record, "pinned", path),
            "said_at": check.moment(record, "said_at", path),
            "last_accessed_at": check.moment(record, "last_accessed_at", path, nullable=True),
            "speaker": check.text(record, "speaker", path, limit=SPEAKER_MAX),
            "source_label": check.text(record, "source_label", path, limit=SOURCE_LABEL_MAX),
            "source_messages": [
                check.reference(ref, f"{path}.source_messages[{k}]", message_ids, "message")
                for k, ref in enumerate(check.list_at(record, "source_messages", path))
            ],
        }
        for key in ("superseded_by", "merged_into"):
            ref = record.get(key)
            memory[key] = None
            if ref is not None:
                memory[key] = check.reference(ref, f"{path}.{key}", seen, "memory")
                if memory[key] is not None and memory[key] == memory["file_id"]:
                    check.problem(f"{path}.{key}", "can't point at the memory itself")
        memories.append(memory)
    return memories


def _check_summaries(values: list, check: _Checker, message_ids, memory_ids) -> list[dict]:
    summaries, days = [], set()
    for i, value in enumerate(values):
        path = f"summaries[{i}]"
        record = check.dict_at(value, path)
        if record is None:
            continue
        raw_day = record.get("day")
        day = None
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
        if day is None:
            check.problem(f"{path}.day", "must be a date, YYYY-MM-DD")
        elif day in days:
            check.problem(f"{path}.day", f"{day} has two summaries")
        days.add(day)
        memory = record.get("memory")
        summaries.append(
            {
                "day": day,
                "text": check.text(record, "text", path, limit=SUMMARY_MAX, required=True),
                "conversation_count": check.count(record, "conversation_count", path),
                "model": check.text(record, "model", path, limit=MODEL_MAX),
                "messages": [
                    check.reference(ref, f"{path}.messages[{k}]", message_ids, "message")
                    for k, ref in enumerate(check.list_at(record, "messages", path))
                ],
                "memory": None
                if memory is None
                else check.reference(memory, f"{path}.memory", memory_ids, "memory"),
            }
        )
    return summaries


def _check(data: bytes, check: _Checker) -> _Parsed | None:
    root = _decode(data, check)
    if root is None:
        return None
    parsed = _Parsed()
    parsed.persona = _check_persona(root.get("persona"), check)
    parsed.portrait = _check_portrait(root.get("portrait"), check)
    message_ids: set[int] = set()
    parsed.conversations = _check_conversations(
        check.list_at(root, "conversations", ""), check, message_ids
    )
    parsed.memories = _check_memories(check.list_at(root, "memories", ""), check, message_ids)
    memory_ids = {m["file_id"] for m in parsed.memories}
    parsed.summaries = _check_summaries(
        check.list_at(root, "summaries", ""), check, message_ids, memory_ids
    )
    return parsed


def _conversation_twin(*, user: User, conversation: dict) -> Conversation | None:
    """The person's conversation with the same start, title and messages, if any."""
    candidate = Conversation.objects.filter(
        user=user, created_at=conversation["created_at"], title=conversation["title"]
    ).first()
    if candidate is None:
        return None
    theirs = list(candidate.messages.order_by("created_at", "pk").values_list("role", "content"))
    ours = [(m["role"], m["content"]) for m in conversation["messages"]]
    return candidate if theirs == ours else None


def _write_conversations(*, user: User, parsed: _Parsed, report: ImportReport) -> dict[int, int]:
    """Conversations and messages; returns file message id -> message id."""
    message_ids: dict[int, int] = {}
    for conversation in parsed.conversations:
        twin = _conversation_twin(user=user, conversation=conversation)
        if twin is not None:
            existing = twin.messages.order_by("created_at", "pk").values_list("pk", flat=True)
            for record, pk in zip(conversation["messages"], existing, strict=True):
                message_ids[record["id"]] = pk
            report.conversations_skipped += 1
            continue
        row = Conversation.objects.create(
            user=user, title=conversation["title"], temporary=conversation["temporary"]
        )
        records = conversation["messages"]
        messages = Message.objects.bulk_create(
            [
                Message(
                    conversation=row,
                    role=m["role"],
                    content=m["content"],
                    status=Message.Status.STOPPED
                    if m["status"] == Message.Status.STREAMING
                    else m["status"],
                    error=m["error"],
                    model=m["model"],
                    prompt_tokens=m["prompt_tokens"],
                    reply_tokens=m["reply_tokens"],
                    first_token_ms=m["first_token_ms"],
                    duration_ms=m["duration_ms"],
                )
                for m in records
            ],
            batch_size=500,
        )
        # auto_now_add stamped them now; the file's times are the real ones.
        for record, message in zip(records, messages, strict=True):
            message.created_at = record["created_at"]
            message_ids[record["id"]] = message.pk
        Message.objects.bulk_update(messages, ["created_at"], batch_size=500)
        Conversation.objects.filter(pk=row.pk).update(
            created_at=conversation["created_at"], updated_at=conversation["updated_at"]
        )
        report.conversations += 1
        report.messages += len(messages)
    return message_ids


def _write_summaries(
    *, user: User, parsed: _Parsed, message_ids: dict, memory_ids: dict, report: ImportReport
) -> None:
    taken = set(DailySummary.objects.filter(user=user).values_list("day", flat=True))
    fresh = []
    for summary in parsed.summaries:
        if summary["day"] in taken:
            report.summaries_skipped += 1
            continue
        fresh.append(
            DailySummary(
                user=user,
                day=summary["day"],
                text=summary["text"],
                conversation_count=summary["conversation_count"],
                model=summary["model"],
                message_ids=[message_ids[i] for i in summary["messages"]],
                memory_id=memory_ids.get(summary["memory"]),
            )
        )
    DailySummary.objects.bulk_create(fresh)
    report.summaries = len(fresh)


def account_import(*, user: User, data: bytes) -> ImportReport:
    """Check a "pipo-export" file whole, then write all of it in one transaction, or nothing.

    Memories, conversations and summaries the person already has (same text and time;
    same start, title and messages; same day) are skipped and counted, so importing one
    file twice adds nothing the second time. The persona and the portrait are replaced.
    """
    check = _Checker()
    parsed = _check(data, check)
    report = ImportReport(problems=check.problems, more_problems=check.more)
    if parsed is None or not report.ok:
        return report
    try:
        with transaction.atomic():
            if parsed.persona is not None:
                persona_update(user=user, **parsed.persona)
                report.persona = True
            if parsed.portrait is not None and parsed.portrait["text"]:
                portrait_restore(user=user, **parsed.portrait)
                report.portrait = True
            message_ids = _write_conversations(user=user, parsed=parsed, report=report)
            imported = memory_import(
                user=user,
                memories=[
                    MemoryImport(
                        file_id=m["file_id"],
                        text=m["text"],
                        said_at=m["said_at"],
                        kind=m["kind"],
                        importance=m["importance"],
                        strength=m["strength"],
                        access_count=m["access_count"],
                        pinned=m["pinned"],
                        last_accessed_at=m["last_accessed_at"],
                        key_text=m["key_text"],
                        speaker=m["speaker"],
                        source_label=m["source_label"],
                        source_message_ids=tuple(message_ids[i] for i in m["source_messages"]),
                        superseded_by=m["superseded_by"],
                        merged_into=m["merged_into"],
                    )
                    for m in parsed.memories
                ],
            )
            report.memories, report.memories_skipped = imported.created, imported.skipped
            _write_summaries(
                user=user,
                parsed=parsed,
                message_ids=message_ids,
                memory_ids=imported.ids,
                report=report,
            )
    except ValidationError as exc:  # the persona, by the settings page's own rules
        report = ImportReport(
            problems=[
                ImportProblem(f"persona.{name}", " ".join(errors))
                for name, errors in exc.message_dict.items()
            ]
        )
    except DatabaseError as exc:
        report = ImportReport(
            problems=[ImportProblem("file", f"could not be saved, nothing was imported: {exc}")]
        )
    return report
