"""How long recall takes as a person's memories grow, and how fast consolidation keeps up
(a benchmark, not a test).

Every chat turn pays one `memory_recall` before the prompt is built, and every message a
person sends goes through `memory_consolidate` in the worker. Run:

    .venv/bin/python -m bench.recall_latency [--sizes 1000 10000 100000] [--queries 200]
        [--backends embedded server] [--messages 300]

It runs PIPO's real settings in this process on a fresh SQLite database in a temporary
PIPO_VAR_DIR (DATABASE_URL, REDIS_URL, CHROMA_* and SUPABASE_* are ignored), with the
embedder PIPO is configured with (all-MiniLM-L6-v2 on torch, PIPO_TORCH_THREADS threads).

1. Recall, per backend (an embedded PersistentClient under the temporary folder, or a
   `chroma run` server started here on a free loopback port) and per size N: one fresh
   person with a memory space and N memories. The rows are bulk-created from synthetic
   personal sentences (templates x names x places x hobbies x numbers, said over a year,
   key text from `memory_key_text`); their vectors are real MiniLM embeddings of their
   key text for the first 10,000, and beyond that small random perturbations
   (renormalised) of randomly chosen ones of those 10,000, so past 10,000 a row's vector
   is not its own text's (embedding 100k keys would take about half an hour here).
   After a first recall (reported on its own: it builds the person's lexical index and
   loads the collection) and a few warm-up recalls, it times
   `memory_recall(k=8, reinforce=False)` on --queries natural questions and, right after
   each, times its parts by calling them directly: query embedding, Chroma query (with
   a count() timed beside it for reference; `vectors_nearest` no longer makes one), and
   the rest (space row,
   lexical freshness check, BM25, rows, fusion).
2. Consolidation: --messages chat messages (statements worth keeping, small talk, and a
   few repeats), one `memory_consolidate` at a time for a fresh person on the embedded
   backend: messages/s and time per message, by outcome.

The machine is shared: it also reports how much CPU other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from bench.common import cpu_seconds, free_port, machine_busy_seconds, pct, process_stop

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STRIPPED = ("DATABASE_URL", "REDIS_URL", "CHROMA_", "SUPABASE_", "DJANGO_")
REAL_EMBEDDINGS = 10_000  # beyond this, vectors are perturbations of these
PERTURBATION_NORM = 0.3  # |noise| before renormalising: cosine ~0.96 to the original
UPSERT_BATCH = 5_000
WARMUP_RECALLS = 10
K = 8
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)

# ------------------------------------------------------------------ synthetic memories

NAMES = [
    "Priya", "Marco", "Aisha", "Tomasz", "Lena", "Kenji", "Sofia", "Diego", "Amara", "Jonas",
    "Mei", "Olu", "Hannah", "Ravi", "Elif", "Luca", "Nadia", "Felix", "Zara", "Mateo",
    "Ingrid", "Kwame", "Chloe", "Yusuf", "Freya", "Dmitri", "Leila", "Oscar", "Imani", "Hugo",
    "Sana", "Tariq", "Greta", "Pablo", "Noor", "Emil", "Camila", "Idris", "Astrid", "Bruno",
    "Maya", "Samir", "Ines", "Theo", "Keiko", "Rafael", "Ayla", "Viktor", "Lucia", "Omar",
]  # fmt: skip
RELATIONS = [
    "sister", "brother", "mum", "dad", "wife", "husband", "partner", "son", "daughter",
    "cousin", "aunt", "uncle", "grandmother", "grandfather", "best friend", "flatmate",
    "colleague", "boss", "neighbour", "niece", "nephew",
]  # fmt: skip
PLACES = [
    "Lisbon", "Berlin", "Osaka", "Nairobi", "Toronto", "Porto", "Kraków", "Seville",
    "Edinburgh", "Hanoi", "Marseille", "Bergen", "Valparaíso", "Tbilisi", "Ljubljana",
    "Cape Town", "Montreal", "Kyoto", "Bologna", "Reykjavik", "Galway", "Tallinn", "Oaxaca",
    "Istanbul", "Melbourne", "Copenhagen", "Lyon", "Vancouver", "Zanzibar", "Bruges",
    "the Lake District", "Cornwall", "the Alps", "Sicily", "Patagonia", "the Dolomites",
]  # fmt: skip
HOBBIES = [
    "bouldering", "pottery", "sourdough baking", "watercolour painting", "trail running",
    "the cello", "chess", "salsa dancing", "bird watching", "knitting", "open water swimming",
    "woodworking", "Japanese", "film photography", "gardening", "rock climbing", "yoga",
    "sea kayaking", "the piano", "calligraphy", "beekeeping", "cycling", "fencing",
    "improv theatre", "astronomy", "embroidery", "surfing", "Spanish", "the guitar",
    "home brewing", "tennis", "skateboarding", "choir singing", "orienteering",
]  # fmt: skip
FOODS = [
    "peanuts", "shellfish", "gluten", "coriander", "mushrooms", "olives", "blue cheese",
    "ramen", "dumplings", "tacos", "pho", "risotto", "curry", "falafel", "sushi", "pierogi",
    "paella", "jollof rice", "dark chocolate", "lemon tart", "kimchi", "halloumi",
]  # fmt: skip
PETS = ["dog", "cat", "rabbit", "parrot", "tortoise", "hamster", "greyhound", "kitten"]
PET_NAMES = [
    "Biscuit", "Pepper", "Mochi", "Juno", "Ziggy", "Olive", "Pickles", "Nemo", "Clover", "Tofu",
    "Bean", "Maple",
]  # fmt: skip
BOOKS = [
    "Middlemarch", "The Left Hand of Darkness", "Piranesi", "Beloved", "Dune",
    "The Remains of the Day", "Klara and the Sun", "Stoner", "The Overstory",
    "Pachinko", "Anna Karenina", "The Dispossessed", "Circe", "Never Let Me Go",
]  # fmt: skip
JOBS = [
    "a design studio", "the hospital", "a bike shop", "the city council", "a start-up",
    "the university library", "a law firm", "a bakery", "the airport", "a school",
]  # fmt: skip
WEEKDAYS = [
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
]  # fmt: skip
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
ITEMS = ["laptop", "bike", "sofa", "camera", "winter coat", "phone", "desk", "kettle", "tent"]

TEMPLATES = [
    "My {relation} {name} just moved to {place} for a job at {job}.",
    "I've been learning {hobby} for {n} months now and I finally feel less clumsy.",
    "{name} and I are going to {place} on {month} {day}.",
    "I'm allergic to {food}, so please never suggest recipes with it.",
    "My {relation} {name} turns {age} on {month} {day}.",
    "I ran {n} km this morning, my longest run since {month}.",
    "We adopted a {pet} called {petname} last {weekday}.",
    "I can't stand {food} but I could eat {food2} every day.",
    "Work was rough today: my boss {name} wants the budget report by {weekday}.",
    "I booked a dentist appointment for {weekday} at {hour} o'clock.",
    "I finished reading {book} and started {book2} on the train.",
    "My flight to {place} leaves at {hour}:30 on the {day}th of {month}.",
    "I paid {price} euros for a second-hand {item}, pretty happy with it.",
    "{name} recommended a {food} place in {place} that we should try.",
    "I signed up for a {hobby} class on {weekday} evenings.",
    "My {relation} {name} is in hospital after a bike accident, I'm worried.",
    "I got promoted to team lead at {job}!",
    "We're thinking of moving to {place} next year, rents there are lower.",
    "I hate how {name} always cancels at the last minute.",
    "I lost my {item} on the bus on {weekday}, so annoying.",
    "The doctor said my blood pressure is fine but I should sleep more than {hours} hours.",
    "I've been vegetarian for {n} years, except for the odd {food}.",
    "{name} gave me a copy of {book} for my birthday.",
    "My {pet} {petname} has to go to the vet on {weekday} for vaccinations.",
    "I want to save {price} euros by {month} for the trip to {place}.",
    "I met {name} at {hobby} club, she's a nurse at {job}.",
    "Our wedding anniversary is on {month} {day}, it will be {n} years.",
    "I slept badly again, only {hours} hours, the neighbours had a party.",
    "I'm training for a half marathon in {place} in {month}.",
    "My {relation} {name} and I had a big argument about money yesterday.",
    "I started therapy on {weekday}s, it helps with the anxiety.",
    "I prefer {hobby} to {hobby2}, it's more relaxing.",
    "Yesterday I baked a {food} pie for {name}'s party, everyone loved it.",
    "I'm nervous about the job interview at {job} on {weekday}.",
    "The kids have their school play on {month} {day}, I promised to film it.",
    "I finally fixed the leaking tap in the kitchen, took me {n} hours.",
]
CONTEXTS = [
    "How was your weekend?",
    "Anything new with your family?",
    "What have you been up to lately?",
    "How are you feeling today?",
    "Tell me more about that.",
    "Did anything interesting happen at work?",
]
QUESTIONS = [
    "When is {name}'s birthday?",
    "Where did my {relation} move to?",
    "What am I allergic to?",
    "How long have I been learning {hobby}?",
    "What's the name of my {pet}?",
    "Which book am I reading at the moment?",
    "When does my flight to {place} leave?",
    "What did {name} recommend we try?",
    "How far did I run this week?",
    "When is my dentist appointment?",
    "What did I pay for the {item}?",
    "Which class did I sign up for?",
    "Who is in hospital?",
    "Where are we thinking of moving?",
    "What food can't I stand?",
    "When is our wedding anniversary?",
    "What am I training for?",
    "Who gave me {book}?",
    "What did I argue about with my {relation}?",
    "Do I prefer {hobby} or {hobby2}?",
    "Where did I meet {name}?",
    "How much do I want to save for {place}?",
    "When is the kids' school play?",
    "What's going on with my job at {job}?",
    "How have I been sleeping?",
    "What did I bake for {name}?",
]
SMALL_TALK = [
    "hi", "hello!", "thanks", "thank you so much", "ok", "cool", "lol", "haha", "good night",
    "good morning", "nice", "sure", "yep", "bye", "great", "okay", "wow",
    "what's the weather like today?", "can you tell me a joke?", "how are you?",
    "what time is it in Tokyo?", "can you explain how photosynthesis works?",
    "what's a good name for a sourdough starter?", "is it going to rain tomorrow?",
    "how do I convert cups to grams?", "what is the capital of Australia?",
]  # fmt: skip
REPLIES = [
    "That sounds lovely!",
    "I'm sorry to hear that. How are you holding up?",
    "Good luck with it!",
    "Noted, I'll remember that.",
    "Tell me more whenever you like.",
    "Here is a quick answer.",
    # As long as a model's replies usually are; chat passes their start and end.
    "That's a big change, and it makes sense to feel a mix of excitement and nerves. "
    "A few things that help: keep one evening a week free, write down what went well, "
    "and don't judge the first month too harshly. How is it going so far?",
    "Here is a simple plan for the week.\n\n1. Monday: a short walk after dinner.\n2. "
    "Wednesday: cook something new with what's in the fridge.\n3. Friday: call someone "
    "you haven't talked to in a while.\n4. Sunday: plan the next week.\n\n"
    "Does that fit your schedule, or should I move things around?",
    "Congratulations! Starting somewhere new is exciting, and the first weeks are mostly "
    "about learning names and routines. Is there anything about the new place you're "
    "unsure about, or anything I can help you prepare?",
]


def fill(template: str, rng: random.Random) -> str:
    return template.format(
        name=rng.choice(NAMES),
        relation=rng.choice(RELATIONS),
        place=rng.choice(PLACES),
        hobby=rng.choice(HOBBIES),
        hobby2=rng.choice(HOBBIES),
        food=rng.choice(FOODS),
        food2=rng.choice(FOODS),
        pet=rng.choice(PETS),
        petname=rng.choice(PET_NAMES),
        book=rng.choice(BOOKS),
        book2=rng.choice(BOOKS),
        job=rng.choice(JOBS),
        weekday=rng.choice(WEEKDAYS),
        month=rng.choice(MONTHS),
        day=rng.randint(1, 28),
        hour=rng.randint(6, 21),
        hours=rng.randint(3, 9),
        n=rng.randint(2, 30),
        age=rng.randint(3, 90),
        price=rng.randint(2, 400) * 10,
        item=rng.choice(ITEMS),
    )


@dataclass
class Synthetic:
    text: str
    said_at: datetime
    context: str
    kind: str
    importance: float


def memories_synthesize(n: int, seed: int = 7) -> list[Synthetic]:
    """n personal statements said over the year before NOW, oldest first."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=365)
    offsets = sorted(rng.uniform(0, 365 * 86400) for _ in range(n))
    kinds = ["fact", "preference", "event", "plan", "relationship"]
    return [
        Synthetic(
            text=fill(rng.choice(TEMPLATES), rng),
            said_at=start + timedelta(seconds=offset),
            context=f"assistant: {rng.choice(CONTEXTS)}" if rng.random() < 0.5 else "",
            kind=rng.choice(kinds),
            importance=round(rng.uniform(0.3, 0.9), 3),
        )
        for offset in offsets
    ]


def questions_synthesize(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [fill(rng.choice(QUESTIONS), rng) for _ in range(n)]


def messages_synthesize(n: int, seed: int = 13) -> list[str]:
    """A chat: ~60% statements, ~30% small talk, ~10% a statement said again."""
    rng = random.Random(seed)
    said: list[str] = []
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.3:
            out.append(rng.choice(SMALL_TALK))
        elif roll < 0.4 and said:
            out.append(rng.choice(said))
        else:
            said.append(fill(rng.choice(TEMPLATES), rng))
            out.append(said[-1])
    return out


# ------------------------------------------------------------------ Django, Chroma, machine


def django_setup(var_dir: Path) -> None:
    """PIPO's real settings on embedded defaults, with a private var/ (before django.setup)."""
    for key in [k for k in os.environ if k.startswith(STRIPPED)]:
        del os.environ[key]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pipo.settings",
        PIPO_VAR_DIR=str(var_dir),
        DEBUG="false",
        OLLAMA_HOST="http://127.0.0.1:9",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def chroma_start(folder: Path, port: int) -> subprocess.Popen:
    """A real Chroma server (`chroma run` from the chromadb package), as tests/conftest.py."""
    log = folder / f"chroma-{port}.log"
    folder.mkdir(parents=True, exist_ok=True)
    with log.open("a") as log_file:
        process = subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(folder / "data"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"chroma exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process_stop(process)
    raise SystemExit(f"chroma did not answer within 60 s:\n{log.read_text()[-3000:]}")


class CpuWatch:
    """Wall time, and CPU seconds spent by us, by a helper process, and by everything else."""

    def __init__(self, helper: subprocess.Popen | None = None) -> None:
        self.helper = helper

    def _read(self) -> tuple[float, float, float, float]:
        helper = cpu_seconds(self.helper.pid) if self.helper else 0.0
        return time.perf_counter(), cpu_seconds(os.getpid()), helper, machine_busy_seconds()

    def __enter__(self) -> CpuWatch:
        self._start = self._read()
        return self

    def __exit__(self, *exc) -> None:
        end = self._read()
        spent = [b - a for a, b in zip(self._start, end, strict=True)]
        self.wall, self.own, self.helper_cpu, busy = spent
        self.others = max(0.0, busy - self.own - self.helper_cpu)


# ------------------------------------------------------------------ measuring


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, result


@dataclass
class RecallRun:
    backend: str
    size: int
    fill_rows_s: float = 0.0
    fill_vectors_s: float = 0.0
    first_ms: float = 0.0
    total_ms: list[float] = field(default_factory=list)
    parts_ms: dict[str, list[float]] = field(default_factory=dict)
    found: list[int] = field(default_factory=list)
    others_cpu: float = 0.0
    chroma_cpu: float = 0.0
    wall: float = 0.0


def person_create(label: str):
    from accounts.models import User
    from memory.services import memory_space_allocate

    email = f"bench-{label}-{uuid.uuid4().hex[:8]}@pipo.invalid"
    user = User.objects.create_user(username=email, email=email, password=None, first_name="Maya")
    space = memory_space_allocate(user=user, name=f"pipo-{uuid.uuid4().hex}")
    return user, space


def vectors_for(n: int, real: np.ndarray, seed: int = 5) -> np.ndarray:
    """The first len(real) rows are real; the rest perturb a random real row, renormalised."""
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(seed)
    extra = n - len(real)
    base = real[rng.integers(0, len(real), size=extra)]
    noise = rng.standard_normal(base.shape).astype(np.float32)
    noise *= PERTURBATION_NORM / np.linalg.norm(noise, axis=1, keepdims=True)
    moved = base + noise
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return np.concatenate([real, moved.astype(np.float32)])


def memories_fill(user, space, corpus: list[Synthetic], keys: list[str], vectors: np.ndarray, run):
    from django.conf import settings

    from memory.embeddings import embedder
    from memory.models import Memory
    from memory.vectors import vectors_upsert

    n = len(vectors)
    start = time.perf_counter()
    rows = [
        Memory(
            user=user,
            text=item.text,
            key_text=key,
            kind=item.kind,
            importance=item.importance,
            strength=settings.PIPO_MEMORY_STRENGTH_BASE_DAYS
            + item.importance * settings.PIPO_MEMORY_STRENGTH_PER_IMPORTANCE_DAYS,
            said_at=item.said_at,
            speaker="Maya",
            vector_status=Memory.VectorStatus.SYNCED,
            embedding_model=embedder().name,
        )
        for item, key in zip(corpus[:n], keys[:n], strict=True)
    ]
    created = Memory.objects.bulk_create(rows, batch_size=2_000)
    run.fill_rows_s = time.perf_counter() - start
    ids = [m.pk for m in created]
    assert all(ids), "bulk_create returned no primary keys"
    start = time.perf_counter()
    for at in range(0, n, UPSERT_BATCH):
        vectors_upsert(
            collection=space.collection,
            ids=ids[at : at + UPSERT_BATCH],
            vectors=vectors[at : at + UPSERT_BATCH].tolist(),
        )
    run.fill_vectors_s = time.perf_counter() - start


def recall_parts(user, space, query: str) -> dict[str, float]:
    """The steps of memory_recall, called one by one (what memory/services.py does)."""
    from django.conf import settings

    from memory.embeddings import embed_texts
    from memory.lexical import lexical_index_for
    from memory.models import Memory
    from memory.ranking import fuse
    from memory.services import IMPORTANCE_WEIGHT, RETENTION_WEIGHT, memory_space_for
    from memory.vectors import chroma_client, vectors_nearest

    n = settings.PIPO_RECALL_CANDIDATES
    parts = {}
    parts["space row"], _ = timed(memory_space_for, user=user)
    parts["query embedding"], vector = timed(embed_texts, [query])
    vector = vector[0].tolist()
    parts["Chroma (vectors_nearest)"], dense = timed(
        vectors_nearest, collection=space.collection, vector=vector, n=n
    )
    collection = chroma_client().get_collection(space.collection)
    parts["  of which count()"], count = timed(collection.count)
    parts["  of which query()"], _ = timed(
        collection.query, query_embeddings=[vector], n_results=min(n, count), include=["distances"]
    )
    parts["lexical freshness check"], person_index = timed(lexical_index_for, user_id=user.pk)
    parts["BM25 top-N"], lexical = timed(person_index.index.scores, query, n)
    ids = {i for i, _ in dense} | {i for i, _ in lexical}
    parts["rows fetch"], rows = timed(
        lambda: {
            m.pk: m
            for m in Memory.objects.filter(user=user, pk__in=ids, superseded_by__isnull=True)
        }
    )

    def fusion():
        prior = {
            i: IMPORTANCE_WEIGHT * m.importance + RETENTION_WEIGHT * m.retention(now=NOW)
            for i, m in rows.items()
        }
        return fuse(
            dense=[(i, s) for i, s in dense if i in rows],
            lexical=[(i, s) for i, s in lexical if i in rows],
            prior=prior,
            neighbours=person_index.neighbours(rows),
            k=K,
        )

    parts["priors + fusion"], _ = timed(fusion)
    return parts


def recall_measure(
    backend: str,
    size: int,
    corpus: list[Synthetic],
    keys: list[str],
    real: np.ndarray,
    questions: list[str],
    chroma: subprocess.Popen | None,
) -> RecallRun:
    from memory.lexical import lexical_index_forget
    from memory.services import memory_recall

    run = RecallRun(backend=backend, size=size)
    user, space = person_create(f"{backend}-{size}")
    memories_fill(user, space, corpus, keys, vectors_for(size, real), run)
    try:
        run.first_ms, _ = timed(memory_recall, user=user, query=questions[0], k=K, reinforce=False)
        for question in questions[1 : 1 + WARMUP_RECALLS]:
            memory_recall(user=user, query=question, k=K, reinforce=False)
        # Each question is recalled, then its parts are timed one by one: interleaved, so
        # the two see the same load from the rest of the machine.
        with CpuWatch(chroma) as watch:
            for question in questions:
                ms, found = timed(memory_recall, user=user, query=question, k=K, reinforce=False)
                run.total_ms.append(ms)
                run.found.append(len(found))
                for name, ms in recall_parts(user, space, question).items():
                    run.parts_ms.setdefault(name, []).append(ms)
        run.wall, run.others_cpu, run.chroma_cpu = watch.wall, watch.others, watch.helper_cpu
    finally:
        lexical_index_forget(user_id=user.pk)
    return run


@dataclass
class ConsolidationRun:
    by_outcome: dict[str, list[float]] = field(default_factory=dict)
    wall: float = 0.0
    others: float = 0.0
    kept: int = 0
    superseded: int = 0
    setup: str = ""
    parts_ms: dict[str, list[float]] = field(default_factory=dict)


def consolidation_measure(n: int) -> ConsolidationRun:
    from django.conf import settings

    from memory.models import Consolidation, Memory
    from memory.scoring import scorer
    from memory.services import memory_consolidate

    # Ollama is pointed at a closed port, so superseding falls back to its rule and says so
    # at INFO for every kept memory; keep its warnings, drop that line.
    logging.getLogger("memory.superseding").setLevel(logging.WARNING)
    user, _ = person_create("consolidate")
    messages = messages_synthesize(n)
    contexts = contexts_synthesize(n)
    rng = random.Random(17)
    said_at = NOW - timedelta(days=30)
    timings: list[tuple[int, float]] = []
    with CpuWatch() as watch:
        for i, (text, context) in enumerate(zip(messages, contexts, strict=True), start=1):
            said_at += timedelta(minutes=rng.randint(1, 180))
            ms, _ = timed(
                memory_consolidate,
                user=user,
                text=text,
                said_at=said_at,
                source_message_id=i,
                speaker="Maya",
                context=context,
            )
            timings.append((i, ms))
    outcomes = dict(
        Consolidation.objects.filter(user=user).values_list("source_message_id", "outcome")
    )
    run = ConsolidationRun(wall=watch.wall, others=watch.others)
    for i, ms in timings:
        run.by_outcome.setdefault(outcomes.get(i, "?"), []).append(ms)
    run.parts_ms = consolidation_parts(messages, contexts)
    run.kept = Memory.objects.filter(user=user).count()
    run.superseded = Memory.objects.filter(user=user, superseded_by__isnull=False).count()
    run.setup = (
        f"importance scorer: {scorer().name}; superseding "
        f"{'on, Ollama unreachable so by rule' if settings.PIPO_SUPERSEDE else 'off'}"
    )
    return run


def contexts_synthesize(n: int) -> list[str]:
    """What chat/tasks passes as the turn each message answers: the assistant's reply."""
    from chat.tasks import message_gist

    rng = random.Random(23)
    return [""] + [f"assistant: {message_gist(rng.choice(REPLIES))}" for _ in range(n - 1)]


def consolidation_parts(messages: list[str], contexts: list[str]) -> dict[str, list[float]]:
    """The stages of keeping a message, called one by one for a second fresh person.

    Every message goes through all of them (as if kept), so each stage is timed on the
    same 300 texts: classify, embed the key, the nearest-neighbour query, store (row, then
    vector), and superseding (rule, since Ollama is unreachable).
    """
    from memory.embeddings import embed_texts
    from memory.scoring import scorer
    from memory.services import SUPERSEDE_CANDIDATES, _key_text, memory_create
    from memory.superseding import memory_supersede
    from memory.vectors import vectors_nearest

    user, space = person_create("consolidate-parts")
    said_at = NOW - timedelta(days=30)
    parts: dict[str, list[float]] = {}

    def add(name: str, ms: float) -> None:
        parts.setdefault(name, []).append(ms)

    for i, (text, context) in enumerate(zip(messages, contexts, strict=True), start=1):
        said_at += timedelta(minutes=7)
        ms_classify, score = timed(scorer().score, text, context)
        key = _key_text(speaker="Maya", text=text, said_at=said_at, caption="", context=context)
        ms_embed, vectors = timed(embed_texts, [key])
        vector = vectors[0].tolist()
        ms_nearest, nearest = timed(
            vectors_nearest, collection=space.collection, vector=vector, n=SUPERSEDE_CANDIDATES
        )
        ms_store, memory = timed(
            memory_create,
            user=user,
            text=text,
            said_at=said_at,
            importance=score.importance,
            kind=score.kind,
            speaker="Maya",
            source_message_id=10_000 + i,
            vector=vectors[0],
        )
        ms_supersede, _ = timed(memory_supersede, memory=memory, vector=vector, nearest=nearest)
        add("classify (importance scorer)", ms_classify)
        add("embed the key (MiniLM)", ms_embed)
        add("nearest-neighbour query (Chroma)", ms_nearest)
        add("store: row, then vector upsert", ms_store)
        add("classify + embed + query + store", ms_classify + ms_embed + ms_nearest + ms_store)
        # What consolidation waits for: it embeds the key while the classifier reads.
        add(
            "max(classify, embed) + query + store",
            max(ms_classify, ms_embed) + ms_nearest + ms_store,
        )
        add("superseding (rule; Ollama unreachable)", ms_supersede)
    return parts


# ------------------------------------------------------------------ report


def report_recall(runs: list[RecallRun], queries: int) -> None:
    print(f"\nRecall: memory_recall(k={K}, reinforce=False), {queries} questions each, ms")
    head = (
        f"{'backend':9} {'memories':>9} {'p50':>7} {'p95':>7} {'mean':>7} {'max':>7} "
        f"{'first':>8} {'fill rows':>10} {'fill vec':>9} {'others CPU':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        load = r.others_cpu / r.wall if r.wall else 0.0
        print(
            f"{r.backend:9} {r.size:9,} {pct(r.total_ms, 0.5):7.1f} {pct(r.total_ms, 0.95):7.1f} "
            f"{statistics.fmean(r.total_ms):7.1f} {max(r.total_ms):7.1f} {r.first_ms:8.0f} "
            f"{r.fill_rows_s:9.1f}s {r.fill_vectors_s:8.1f}s {load:10.2f}c"
        )
    short = sum(n < K for r in runs for n in r.found)
    if short:
        print(f"({short} recalls returned fewer than {K} memories)")
    print(
        "first: the first recall of the person (builds the lexical index, loads the "
        "collection); fill: bulk_create of the rows, vectors_upsert of the vectors; others "
        "CPU: cores busy with other processes (the Chroma server not counted) while the "
        "recalls and their parts were timed."
    )
    for r in runs:
        print(f"\nParts of one recall, {r.backend}, {r.size:,} memories (called one by one), ms")
        print(f"  {'part':28} {'p50':>7} {'p95':>7} {'mean':>7}")
        summed = 0.0
        for name, values in r.parts_ms.items():
            if not name.startswith(" "):
                summed += statistics.median(values)
            print(
                f"  {name:28} {pct(values, 0.5):7.2f} {pct(values, 0.95):7.2f} "
                f"{statistics.fmean(values):7.2f}"
            )
        rest = [
            sum(values[i] for name, values in r.parts_ms.items() if name not in _NOT_REST)
            for i in range(len(r.total_ms))
        ]
        print(f"  {'lexical + DB + fusion':28} {pct(rest, 0.5):7.2f} {pct(rest, 0.95):7.2f} "
              f"{statistics.fmean(rest):7.2f}")  # fmt: skip
        print(
            f"  {'sum of part medians':28} {summed:7.2f}   (recall p50 {pct(r.total_ms, 0.5):.2f})"
        )
        if r.chroma_cpu:
            print(f"  Chroma server CPU during the timed recalls: {r.chroma_cpu:.1f} s")


_NOT_REST = {
    "query embedding",
    "Chroma (vectors_nearest)",
    "  of which count()",
    "  of which query()",
}


def report_consolidation(run: ConsolidationRun) -> None:
    every = [ms for values in run.by_outcome.values() for ms in values]
    print(f"\nConsolidation: {len(every)} messages through memory_consolidate, one at a time")
    print(
        f"  {len(every) / run.wall:.1f} messages/s, {run.kept} memories kept "
        f"({run.superseded} of them superseded since), others CPU {run.others / run.wall:.2f} "
        "cores"
    )
    print(f"  {run.setup}")
    print(f"  {'outcome':12} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, values in [("all", every), *sorted(run.by_outcome.items())]:
        print(
            f"  {name:12} {len(values):6} {pct(values, 0.5):8.1f} {pct(values, 0.95):8.1f} "
            f"{statistics.fmean(values):8.1f}"
        )
    if run.parts_ms:
        print("\n  Stages of keeping a message (called one by one, every message kept), ms")
        print(f"  {'stage':42} {'p50':>7} {'p95':>7} {'mean':>7}")
        for name, values in run.parts_ms.items():
            print(
                f"  {name:42} {pct(values, 0.5):7.1f} {pct(values, 0.95):7.1f} "
                f"{statistics.fmean(values):7.1f}"
            )


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="timed recalls per size")
    parser.add_argument(
        "--backends", nargs="+", choices=["embedded", "server"], default=["embedded", "server"]
    )
    parser.add_argument(
        "--messages", type=int, default=300, help="messages to consolidate, 0 to skip"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pipo-bench-recall-"))
    chroma = None
    try:
        django_setup(tmp / "var")
        import torch
        from django.conf import settings

        from memory.embeddings import embed_texts, embedder
        from memory.ranking import memory_key_text

        load_ms, _ = timed(embed_texts, ["warm up"])
        print(
            f"embedder {embedder().name}: loaded in {load_ms / 1000:.1f} s, "
            f"torch threads {torch.get_num_threads()} (PIPO_TORCH_THREADS "
            f"{settings.PIPO_TORCH_THREADS}); recall candidates {settings.PIPO_RECALL_CANDIDATES}"
        )

        biggest = max(args.sizes)
        corpus = memories_synthesize(biggest)
        keys = [
            memory_key_text(
                speaker="Maya",
                text=m.text,
                said_at=f"{m.said_at:%-d %B %Y}",
                context=m.context or None,
            )
            for m in corpus
        ]
        questions = questions_synthesize(max(args.queries, WARMUP_RECALLS + 1))
        real_n = min(biggest, REAL_EMBEDDINGS)
        start = time.perf_counter()
        real = embed_texts(keys[:real_n])
        print(
            f"embedded {real_n:,} memory keys in {time.perf_counter() - start:.0f} s; "
            f"{len(set(m.text for m in corpus)):,} distinct texts among {biggest:,} memories"
        )

        runs: list[RecallRun] = []
        for backend in args.backends:
            if backend == "server":
                port = free_port()
                chroma = chroma_start(tmp / "chroma-server", port)
                settings.CHROMA_URL = f"http://127.0.0.1:{port}"
            else:
                settings.CHROMA_URL = ""
            for size in sorted(args.sizes):
                print(f"... {backend}, {size:,} memories", flush=True)
                runs.append(
                    recall_measure(
                        backend, size, corpus, keys, real, questions[: args.queries], chroma
                    )
                )
            if chroma is not None:
                process_stop(chroma)
                chroma = None
        settings.CHROMA_URL = ""
        consolidation = None
        if args.messages > 0:
            print("... consolidation (embedded)", flush=True)
            consolidation = consolidation_measure(args.messages)

        if runs:
            report_recall(runs, args.queries)
        if consolidation is not None:
            report_consolidation(consolidation)
    finally:
        if chroma is not None:
            process_stop(chroma)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
