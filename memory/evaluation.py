"""LoCoMo retrieval evaluation through the real memory pipeline (`manage.py eval_memory`).

For each conversation of a LoCoMo-format file: a throwaway person, every turn fed
through consolidation (scorer, embeddings, Chroma) with its session's date as the time
it was said, then each question of categories 1-4 recalled at the time of the last
session. A question's score is the fraction of its evidence turns among the sources of
the top-k memories (recall@k, the LoCoMo paper's measure); recall_all@k counts questions
whose every evidence turn was found, recall_any@k those with at least one. A memory's
sources are the turn that made it and every turn that said it again (consolidation
returns the near-duplicate it reinforced), as `source_message_ids` records for chat.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model

from memory.embeddings import embed_texts
from memory.models import Memory
from memory.ranking import LexicalIndex
from memory.services import memory_consolidate, memory_recall, memory_space_allocate

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
BASELINES = ("bm25", "dense")


class EvaluationDataError(ValueError):
    """The file is not in LoCoMo format; the message says what is wrong and where."""


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str
    said_at: datetime


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]


def _session_time(raw: str, where: str) -> datetime:
    for pattern in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(raw.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise EvaluationDataError(f"{where}: date_time {raw!r} is not like '1:56 pm on 8 May, 2023'")


def locomo_load(path: Path) -> list[dict]:
    """Conversations as {id, turns, questions}; raises EvaluationDataError on a bad file."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvaluationDataError(f"{path}: no such file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvaluationDataError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(raw, list) or not raw:
        raise EvaluationDataError(f"{path}: expected a JSON list of conversations")
    conversations = []
    for n, item in enumerate(raw):
        where = f"{path}: conversation {n}"
        try:
            turns = [
                Turn(
                    dia_id=str(turn["dia_id"]),
                    speaker=str(turn["speaker"]),
                    text=str(turn["text"]),
                    caption=str(turn.get("blip_caption") or ""),
                    said_at=_session_time(session["date_time"], f"{where} session"),
                )
                for session in item["sessions"]
                for turn in session["turns"]
            ]
            questions = [
                Question(
                    text=str(qa["question"]),
                    category=int(qa["category"]),
                    evidence=frozenset(str(e) for e in qa.get("evidence") or []),
                )
                for qa in item["qa"]
            ]
        except (KeyError, TypeError) as exc:
            raise EvaluationDataError(f"{where}: missing or malformed field {exc}") from exc
        conversations.append({"id": str(item.get("id", n)), "turns": turns, "questions": questions})
    return conversations


def _scored(questions: list[Question]) -> list[Question]:
    return [q for q in questions if q.category in CATEGORIES and q.evidence]


def _ranked_sources(recalled_labels: list[list[str]]) -> list[list[str]]:
    """Each recalled memory's turns, best memory first, a turn counted at its first memory."""
    seen: set[str] = set()
    ranked = []
    for labels in recalled_labels:
        fresh = [label for label in labels if label and label not in seen]
        seen.update(fresh)
        ranked.append(fresh)
    return ranked


class _Tally:
    def __init__(self, ks: tuple[int, ...]) -> None:
        self.ks = ks
        self.rows: dict[str, dict[str, list[float]]] = {}

    def add(self, category: int, evidence: frozenset[str], sources: list[list[str]]) -> None:
        """`sources`: the turns behind each recalled memory (or raw turn), best first."""
        for group in (CATEGORIES[category], "overall"):
            row = self.rows.setdefault(group, {})
            for k in self.ks:
                top = {label for labels in sources[:k] for label in labels}
                found = len(evidence & top) / len(evidence)
                row.setdefault(f"recall@{k}", []).append(found)
                row.setdefault(f"recall_all@{k}", []).append(float(found == 1.0))
                row.setdefault(f"recall_any@{k}", []).append(float(found > 0))

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for group, metrics in self.rows.items():
            out[group] = {name: round(float(np.mean(v)), 4) for name, v in metrics.items()}
            out[group]["questions"] = len(next(iter(metrics.values())))
        return out


def _pipeline(
    conversation: dict, ks: tuple[int, ...], tally: _Tally, step: Callable, keep_all: bool
) -> int:
    person = get_user_model().objects.create(
        username=f"eval-{uuid.uuid4().hex[:12]}", email="eval@pipo.invalid"
    )
    try:
        memory_space_allocate(user=person, name=f"pipo-eval-{uuid.uuid4().hex}")
        previous: Turn | None = None
        # The turns behind each memory: the one that made it, and any that said it again
        # (consolidation returns the near-duplicate it reinforced), as source_message_ids
        # records for chat messages.
        turns_behind: dict[int, list[str]] = {}
        for turn in conversation["turns"]:
            memory = memory_consolidate(
                user=person,
                text=turn.text,
                said_at=turn.said_at,
                speaker=turn.speaker,
                caption=turn.caption,
                # The previous turn of the same session: a reply often leaves its subject
                # to the question it answers.
                context=(
                    f"{previous.speaker}: {previous.text}"
                    if previous and previous.said_at == turn.said_at
                    else ""
                ),
                source_label=turn.dia_id,
                keep_all=keep_all,
            )
            if memory is not None:
                turns_behind.setdefault(memory.pk, []).append(turn.dia_id)
            previous = turn
            step(1)
        kept = Memory.objects.filter(user=person).count()
        last_said = max(t.said_at for t in conversation["turns"])
        for question in _scored(conversation["questions"]):
            recalled = memory_recall(
                user=person, query=question.text, k=max(ks), now=last_said, reinforce=False
            )
            sources = _ranked_sources([turns_behind.get(m.id, [m.source_label]) for m in recalled])
            tally.add(question.category, question.evidence, sources)
        return kept
    finally:
        person.delete()


def _baseline(conversation: dict, ks: tuple[int, ...], tally: _Tally, kind: str, step) -> int:
    """Every raw turn stored, ranked by BM25 or by dense cosine alone (for comparison)."""
    turns = conversation["turns"]
    labels = [t.dia_id for t in turns]
    # The raw turn as a plain store would keep it: who said it, what, and the photo caption.
    texts = [f"{t.speaker}: {t.text} {t.caption}".strip() for t in turns]
    if kind == "bm25":
        index = LexicalIndex(enumerate(texts))
    else:
        matrix = embed_texts(texts)
    step(len(turns))
    for question in _scored(conversation["questions"]):
        if kind == "bm25":
            order = [n for n, _ in index.scores(question.text, max(ks))]
        else:
            sims = matrix @ embed_texts([question.text])[0]
            order = list(np.argsort(-sims)[: max(ks)])
        tally.add(question.category, question.evidence, [[labels[n]] for n in order])
    return len(turns)


def locomo_evaluate(
    *,
    conversations: list[dict],
    ks: tuple[int, ...] = (5, 10),
    baseline: str | None = None,
    keep_all: bool = False,
    step: Callable[[int], object] = lambda n: None,
) -> dict:
    """The figures of `eval_memory`, as the JSON it writes."""
    started = time.monotonic()
    tally = _Tally(tuple(sorted(set(ks))))
    kept = 0
    for conversation in conversations:
        if baseline is None:
            kept += _pipeline(conversation, tally.ks, tally, step, keep_all)
        else:
            kept += _baseline(conversation, tally.ks, tally, baseline, step)
    summary = tally.summary()
    overall = summary.pop("overall", {})
    return {
        **overall,
        "per_category": summary,
        "memories": kept,
        "turns": sum(len(c["turns"]) for c in conversations),
        "conversations": len(conversations),
        "seconds": round(time.monotonic() - started, 1),
        "method": baseline or ("pipo, every turn kept" if keep_all else "pipo"),
    }
