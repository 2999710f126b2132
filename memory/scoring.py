"""Importance scoring: how much a message is worth remembering, and what kind it is.

`importance_score` goes through a scorer interface so the trained classifier
(`memory/classifier.py`, written by `manage.py train_importance`) replaces the rules
without touching consolidation. `scorer()` returns the classifier when a finished model
is in `PIPO_IMPORTANCE_MODEL_DIR`, else the rules. It looks at the model's metrics.json
at most once every `PIPO_IMPORTANCE_RECHECK_SECONDS`, so a model trained later (by the
worker, or by hand) is picked up without a restart; a missing or broken model means the
rules, with one logged warning per change, never a crash.

The rules below are the documented stand-in: first-person statements about one's life,
people, plans, likes and health score high; greetings, thanks, filler and questions to
the assistant score low.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Score:
    importance: float
    kind: str


class Scorer(Protocol):
    name: str
    keep_threshold: float  # importance from which a message is kept, on this scorer's scale

    # context: the message `text` replies to ("speaker: words"), or "".
    def score(self, text: str, context: str = "") -> Score: ...

    def score_many(self, texts: list[str], contexts: list[str] | None = None) -> list[Score]: ...


def _any(patterns: str) -> re.Pattern:
    return re.compile(patterns, re.IGNORECASE)


FILLER = _any(
    r"^\W*(hi|hello|hey|yo|thanks?( you)?|thank you|ok(ay)?|cool|nice|great|lol|haha|"
    r"good (morning|night|evening)|bye|see (you|ya)|sure|yes|no|yep|nope|wow)\W*$"
)
FIRST_PERSON = _any(r"\b(i|i'm|im|i've|i'd|i'll|my|mine|me|we|we're|our|us)\b")
KIND_RULES: list[tuple[str, re.Pattern, float]] = [
    ("preference", _any(r"\b(love|like|enjoy|hate|prefer|favou?rite|can't stand|fan of)\b"), 0.25),
    (
        "plan",
        _any(r"\b(going to|gonna|plan(ning)?|will|tomorrow|next (week|month|year)|soon)\b"),
        0.2,
    ),
    (
        "relationship",
        _any(
            r"\b(wife|husband|partner|girlfriend|boyfriend|son|daughter|kids?|children|mom|mum|"
            r"mother|dad|father|sister|brother|friend|family|boss|colleague|dog|cat|pet)\b"
        ),
        0.25,
    ),
    (
        "event",
        _any(
            r"\b(yesterday|last (week|month|year|night)|went|visited|moved|started|finished|"
            r"graduated|married|born|adopted|joined|won|lost|met)\b"
        ),
        0.2,
    ),
    (
        "fact",
        _any(
            r"\b(i am|i'm|i work|my job|i live|allergic|birthday|years old|my name|diagnosed|"
            r"i study|i have|i've been)\b"
        ),
        0.3,
    ),
]
NUMBER_OR_NAME = re.compile(r"\b(\d{1,4}|[A-Z][a-z]{2,})\b")
QUESTION_TO_ASSISTANT = _any(
    r"^\s*(can|could|would|will|what|how|why|who|where|when|is|are|do|does)\b.*\?\s*$"
)
# A question that still tells something about the person ("Can you help me plan my
# sister's wedding?") keeps its score.
SELF_DISCLOSURE = _any(r"\b(i am|i'm|im|i have|i've|my|our|we're|we have)\b")


class RuleScorer:
    name = "rules"

    @property
    def keep_threshold(self) -> float:
        return settings.PIPO_MEMORY_IMPORTANCE_THRESHOLD

    def score(self, text: str, context: str = "") -> Score:
        """The rules read the message alone; `context` is accepted for the interface."""
        stripped = text.strip()
        if not stripped or FILLER.match(stripped):
            return Score(importance=0.0, kind="other")
        importance = 0.15
        kind = "other"
        best = 0.0
        for name, pattern, weight in KIND_RULES:
            if pattern.search(stripped):
                importance += weight
                if weight > best:
                    kind, best = name, weight
        if FIRST_PERSON.search(stripped):
            importance += 0.2
        if NUMBER_OR_NAME.search(stripped[1:]):
            importance += 0.1
        words = len(stripped.split())
        if words < 4:
            importance -= 0.1
        elif words > 12:
            importance += 0.05
        if QUESTION_TO_ASSISTANT.match(stripped) and not SELF_DISCLOSURE.search(stripped):
            importance -= 0.2
        if kind == "other" and importance >= 0.3:
            kind = "fact"
        return Score(importance=round(min(max(importance, 0.0), 1.0), 3), kind=kind)

    def score_many(self, texts: list[str], contexts: list[str] | None = None) -> list[Score]:
        return [self.score(text) for text in texts]


_rules = RuleScorer()


@dataclass(frozen=True)
class _Choice:
    model_dir: Path | None
    stamp: tuple[int, int] | None  # metrics.json (mtime_ns, size), None when absent
    checked_at: float
    scorer: Scorer


_choice = _Choice(model_dir=None, stamp=None, checked_at=0.0, scorer=_rules)
_choice_lock = threading.Lock()
_warned: set[tuple] = set()


def _warn_once(key: tuple, message: str, *args) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def _metrics_stamp(model_dir: Path) -> tuple[int, int] | None:
    try:
        found = (model_dir / "metrics.json").stat()
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size)


def _scorer_for(model_dir: Path, stamp: tuple[int, int] | None) -> Scorer:
    from memory.classifier import ClassifierScorer

    if stamp is None:
        _warn_once(
            (model_dir, None),
            "no trained importance model in %s: scoring with the rules until one is "
            "trained (manage.py train_importance; the worker trains it when missing)",
            model_dir,
        )
        return _rules
    try:
        classifier = ClassifierScorer(model_dir, threads=settings.PIPO_TORCH_THREADS)
        classifier.load()
    except Exception as exc:  # ClassifierUnavailable, or anything torch raises
        _warn_once(
            (model_dir, stamp),
            "importance model in %s is unusable, scoring with the rules: %s",
            model_dir,
            exc,
        )
        return _rules
    _warned.discard((model_dir, None))  # warn again should it go missing later
    logger.info("importance: %s from %s", classifier.name, model_dir)
    return classifier


def scorer() -> Scorer:
    """The classifier when a finished model is in PIPO_IMPORTANCE_MODEL_DIR, else the rules."""
    global _choice
    model_dir = Path(settings.PIPO_IMPORTANCE_MODEL_DIR)
    recheck = settings.PIPO_IMPORTANCE_RECHECK_SECONDS
    current = _choice
    if current.model_dir == model_dir and time.monotonic() - current.checked_at < recheck:
        return current.scorer
    with _choice_lock:
        current = _choice
        now = time.monotonic()
        if current.model_dir == model_dir and now - current.checked_at < recheck:
            return current.scorer
        stamp = _metrics_stamp(model_dir)
        if current.model_dir == model_dir and current.stamp == stamp:
            chosen = current.scorer
        else:
            chosen = _scorer_for(model_dir, stamp)
        _choice = _Choice(model_dir=model_dir, stamp=stamp, checked_at=now, scorer=chosen)
        return chosen


def importance_score_many(texts: list[str], contexts: list[str] | None = None) -> list[Score]:
    current = scorer()
    if current is _rules:
        return _rules.score_many(texts)
    try:
        return current.score_many(texts, contexts)
    except Exception as exc:
        _warn_once(
            ("inference", id(current)),
            "importance classifier failed, scoring with the rules: %s",
            exc,
        )
        return _rules.score_many(texts)


def importance_score(text: str, context: str = "") -> Score:
    return importance_score_many([text], [context])[0]
