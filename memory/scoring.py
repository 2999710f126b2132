"""Importance scoring: how much a message is worth remembering, and what kind it is.

`importance_score` goes through a scorer interface so the trained classifier (next
issue) can replace the rules without touching consolidation. The rules below are the
documented stand-in: first-person statements about one's life, people, plans, likes and
health score high; greetings, thanks, filler and questions to the assistant score low.
"""

import re
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Score:
    importance: float
    kind: str


class Scorer(Protocol):
    name: str

    def score(self, text: str) -> Score: ...


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

    def score(self, text: str) -> Score:
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


_rules = RuleScorer()


def scorer() -> Scorer:
    return _rules


def importance_score(text: str) -> Score:
    return scorer().score(text)
