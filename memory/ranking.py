"""How recall ranks one person's memories: a lexical index, a dense list, and their fusion.

Pure functions and small classes (numpy only, no Django), so `memory_recall` can call them
and `bench/locomo_retrieval.py` can measure them. The parameters below were chosen on the
LoCoMo dev file (DESIGN §6) with that harness; see its docstring for the table of variants.

The recall path, per query (chosen on the dev file: recall@10 0.80, against 0.59 for the
plain BM25 + dense reciprocal-rank fusion of DESIGN §6):

1. dense: Chroma returns the top `DENSE_CANDIDATES` memories by cosine between the query
   embedding and each memory's key embedding (`memory_key_text`);
2. lexical: `LexicalIndex.scores` returns the top `LEXICAL_CANDIDATES` memories by BM25
   over the same key text (the turn, its speaker, date, image caption and the turn before);
3. `fuse` rescales both lists to 0..1, adds them with `LEXICAL_WEIGHT` favouring BM25 plus
   an optional per-memory prior (importance, retention), lets each candidate inherit
   `NEIGHBOUR_WEIGHT` of its best adjacent candidate's score, and keeps the top k with
   the parts that made each score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

import numpy as np

Id = TypeVar("Id", bound=Hashable)

# --- chosen parameters -------------------------------------------------------------------

BM25_K1 = 1.2  # the textbook value; k1 from 0.9 to 2.0 moved recall@10 by < 0.01
BM25_B = 0.75  # the textbook value; b from 0.5 to 0.9 moved recall@10 by < 0.01
DENSE_CANDIDATES = 50  # Chroma top-N; 30, 50 and 100 are within 0.01 of each other
LEXICAL_CANDIDATES = 50  # the same depth for the lexical list, so neither dominates the pool
DENSE_WEIGHT = 1.0  # dense (cosine, rescaled over its candidates) counts once...
LEXICAL_WEIGHT = 1.5  # ...BM25 a bit more: alone it beats dense by 0.13; 1.25-2.0 all do well
NEIGHBOUR_WEIGHT = 0.5  # share of an adjacent turn's score a memory inherits; 0.5-1.0 a plateau

# --- tokenisation ------------------------------------------------------------------------

# Function words and question words: they carry no topic, and questions are full of them.
# Numbers, names and negations are kept.
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "y",
        "hey",
        "oh",
        "yeah",
        "wow",
        "really",
    ]
)

_TOKEN_RE = re.compile(r"[a-z0-9]+")
_APOSTROPHE_RE = re.compile(r"['\u2019]")
_VOWEL_RE = re.compile(r"[aeiouy]")


def _stem(word: str) -> str:
    """A light suffix stemmer: plurals, -ing and -ed, and a final "e"; nothing clever.

    Light on purpose: it joins "paint/paints/painted/painting", "kid/kids" and
    "bake/baked/baking" without the over-merging of a full Porter stemmer. Numbers and
    words of three letters or fewer are left alone; a stem must keep a vowel.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    else:
        for suffix in ("ing", "ed"):
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 3 and _VOWEL_RE.search(stem):
                word = stem
                if word[-1] == word[-2] and word[-1] not in "lsz":
                    word = word[:-1]  # "running" -> "run"
                break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lowercase words and numbers, apostrophes folded ("Caroline's" -> "carolines" ->
    "caroline"), stopwords dropped, lightly stemmed. Used for memories and queries alike."""
    text = _APOSTROPHE_RE.sub("", text.lower())
    return [_stem(w) for w in _TOKEN_RE.findall(text) if w not in STOPWORDS]


# --- memory keys -------------------------------------------------------------------------


def memory_key_text(
    *,
    speaker: str,
    text: str,
    said_at: str | None = None,
    caption: str | None = None,
    context: str | None = None,
) -> str:
    """The text a memory is indexed under, lexically and densely.

    "[said_at] speaker: text [shares a photo of: caption]", then "(in reply to CONTEXT)" on
    its own line, CONTEXT being the message said just before in the same conversation,
    itself built with this function without said_at or context. Every part counted on the
    dev file: the speaker (+0.22 dense), the date (+0.04 to +0.07), the context (+0.10).
    The context matters because a statement often answers a question whose words it does
    not repeat ("What did you research?" -> "Adoption agencies."); the caption stands in
    for a shared image.
    """
    head = f"{speaker}: {text.strip()}"
    if said_at:
        head = f"[{said_at}] {head}"
    if caption:
        head = f"{head} [shares a photo of: {caption.strip()}]"
    if context:
        head = f"{head}\n(in reply to {context.strip()})"
    return head


# --- lexical index -----------------------------------------------------------------------


class LexicalIndex(Generic[Id]):
    """BM25 over an inverted index, incremental: add and remove cost one document's tokens.

    Postings live in dicts (term -> {slot: term frequency}); each term's postings are turned
    into numpy arrays on first use and cached until a document with that term changes, so a
    query costs a few vectorised slices, not a loop over documents.
    """

    def __init__(
        self,
        items: Iterable[tuple[Id, str]] = (),
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
        tokenizer=tokenize,
    ) -> None:
        self.k1 = k1
        self.b = b
        self._tokenize = tokenizer
        self._slot_of: dict[Id, int] = {}
        self._ids: list[Id | None] = []
        self._free: list[int] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._doc_terms: list[dict[str, int]] = []
        self._postings: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._total_length = 0.0
        self._norm: np.ndarray | None = None  # per-slot BM25 length norm, None when stale
        for item_id, text in items:
            self.add(item_id, text)

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._slot_of

    def add(self, item_id: Id, text: str) -> None:
        """Index `text` under `item_id`, replacing what that id had before."""
        if item_id in self._slot_of:
            self.remove(item_id)
        counts: dict[str, int] = {}
        for token in self._tokenize(text):
            counts[token] = counts.get(token, 0) + 1
        if self._free:
            slot = self._free.pop()
            self._ids[slot] = item_id
            self._doc_terms[slot] = counts
        else:
            slot = len(self._ids)
            self._ids.append(item_id)
            self._doc_terms.append(counts)
            if slot >= len(self._lengths):
                grown = np.zeros(max(16, 2 * len(self._lengths)), dtype=np.float64)
                grown[: len(self._lengths)] = self._lengths
                self._lengths = grown
        length = float(sum(counts.values()))
        self._lengths[slot] = length
        self._total_length += length
        self._slot_of[item_id] = slot
        self._norm = None
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[slot] = tf
            self._arrays.pop(term, None)

    def remove(self, item_id: Id) -> None:
        """Forget `item_id`; unknown ids are ignored."""
        slot = self._slot_of.pop(item_id, None)
        if slot is None:
            return
        for term in self._doc_terms[slot]:
            postings = self._postings[term]
            del postings[slot]
            if not postings:
                del self._postings[term]
            self._arrays.pop(term, None)
        self._total_length -= self._lengths[slot]
        self._lengths[slot] = 0.0
        self._doc_terms[slot] = {}
        self._ids[slot] = None
        self._free.append(slot)
        self._norm = None

    def _postings_arrays(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        arrays = self._arrays.get(term)
        if arrays is None:
            postings = self._postings.get(term)
            if not postings:
                return None
            slots = np.fromiter(postings.keys(), dtype=np.int64, count=len(postings))
            tfs = np.fromiter(postings.values(), dtype=np.float64, count=len(postings))
            arrays = self._arrays[term] = (slots, tfs)
        return arrays

    def score_array(self, query: str) -> np.ndarray:
        """BM25 of every slot for `query` (0 for slots that share no term)."""
        scores = np.zeros(len(self._ids), dtype=np.float64)
        n = len(self._slot_of)
        if n == 0:
            return scores
        norm = self._norm
        if norm is None:
            avgdl = self._total_length / n or 1.0
            lengths = self._lengths[: len(self._ids)]
            norm = self._norm = self.k1 * (1.0 - self.b + self.b * lengths / avgdl)
        for term in set(self._tokenize(query)):
            arrays = self._postings_arrays(term)
            if arrays is None:
                continue
            slots, tfs = arrays
            df = len(slots)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            scores[slots] += idf * tfs * (self.k1 + 1.0) / (tfs + norm[slots])
        return scores

    def scores(self, query: str, limit: int = LEXICAL_CANDIDATES) -> list[tuple[Id, float]]:
        """The `limit` best (id, BM25) pairs for `query`, best first; zero scores left out."""
        scores = self.score_array(query)
        if limit <= 0 or not len(scores):
            return []
        if limit < len(scores):
            top = np.argpartition(-scores, limit - 1)[:limit]
        else:
            top = np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in top if scores[i] > 0.0]  # type: ignore[misc]


# --- fusion ------------------------------------------------------------------------------


def fuse(
    *,
    dense: list[tuple[Id, float]],
    lexical: list[tuple[Id, float]],
    prior: Mapping[Id, float] | None = None,
    neighbours: Mapping[Id, Iterable[Id]] | None = None,
    k: int,
    dense_weight: float = DENSE_WEIGHT,
    lexical_weight: float = LEXICAL_WEIGHT,
    neighbour_weight: float = NEIGHBOUR_WEIGHT,
) -> list[tuple[Id, float, dict[str, float]]]:
    """Blend a dense top-N (cosines) and a lexical top-N (BM25) into the top k.

    1. Each list is rescaled within itself: lexical as BM25 / best BM25, dense as
       (cos - floor) / (best - floor), the floor being the list's last cosine; so both run
       0..1 over their candidates, and a candidate one list did not return gets 0 from it.
    2. base = dense_weight * dense + lexical_weight * lexical + prior (importance,
       retention...; 0 when absent).
    3. score = base + neighbour_weight * the best base among the candidate's neighbours
       (the memories said just before and after it, when the caller knows them): an answer
       often sits next to the turn that matches the question.

    Returns (id, score, parts) best first; parts name each contribution (and the raw
    cosine and BM25) so the UI can say why a memory was recalled.
    """
    parts: dict[Id, dict[str, float]] = {}
    if dense:
        best = max(s for _, s in dense)
        floor = min(s for _, s in dense)
        span = best - floor
        for item_id, cos in dense:
            scaled = (cos - floor) / span if span > 0 else 1.0
            parts[item_id] = {"cosine": cos, "dense": dense_weight * scaled}
    if lexical:
        best = max(s for _, s in lexical)
        for item_id, bm25 in lexical:
            p = parts.setdefault(item_id, {})
            p["bm25"] = bm25
            p["lexical"] = lexical_weight * (bm25 / best if best > 0 else 0.0)
    prior = prior or {}
    base: dict[Id, float] = {}
    for item_id, p in parts.items():
        p["prior"] = prior.get(item_id, 0.0)
        base[item_id] = p.get("dense", 0.0) + p.get("lexical", 0.0) + p["prior"]
    ranked: list[tuple[Id, float, dict[str, float]]] = []
    for item_id, p in parts.items():
        near = (neighbours or {}).get(item_id, ())
        p["neighbour"] = neighbour_weight * max((base.get(n, 0.0) for n in near), default=0.0)
        ranked.append((item_id, base[item_id] + p["neighbour"], p))
    ranked.sort(key=lambda r: -r[1])
    return ranked[:k]
