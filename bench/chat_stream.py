"""How fast PIPO streams a reply through the chat websocket (a benchmark, not a test).

Every reply a person reads passes through this path: their message frame in, the turn
saved, Ollama asked, one websocket frame per token out, the finished bubble last. Run:

    .venv/bin/python -m bench.chat_stream [--chats 50 --tokens 200 --repeat 30]
    .venv/bin/python -m bench.chat_stream --redis redis://127.0.0.1:6379/15 [--log daphne.log]

(--redis wants a scratch database: the bench deletes the short-term buffers of its own
conversation ids there, which a fresh SQLite file numbers from 1.)

It starts the Ollama stand-in from tests/support in this process at zero token delay
(so what is timed is PIPO's own cost, plus the stand-in's HTTP cost), migrates a fresh
SQLite database in a temporary PIPO_VAR_DIR, creates signed-in people and conversations
in it, and serves PIPO with a real Daphne in a subprocess on the embedded defaults
(in-memory channel layer, SQLite; with --redis the channel layer and the short-term
buffer are on Redis). Then, with the `websockets` client:

1. one chat, --repeat turns in sequence: send → opening frame, send → first token,
   token inter-arrival, send → finished bubble, and the cold first turn; beside it
   PIPO's own Ollama client (`llm_chat_stream`) against the same stand-in, in a process
   of its own, without Daphne, the database or the websocket;
2. --chats people at once, each on their own socket and conversation: every token
   counted and checked for order, first-token latency, tokens/s through one Daphne.

Exits 1 if a token was lost or reordered, a reply did not finish as complete, the saved
reply differs from the streamed one, or Daphne logged an error.
"""

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.common import cpu_seconds, free_port, machine_busy_seconds, pct, process_stop
from tests.support.ollama import OllamaServer, tokens_of

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STRIPPED = ("DATABASE_URL", "REDIS_URL", "CHROMA_", "SUPABASE_", "DJANGO_")
TOKEN = re.compile(r'<span hx-swap-oob="beforeend:#message-(\d+)-text">(.*?)</span>', re.S)
FINISHED = re.compile(r'<article id="message-(\d+)"[^>]*hx-swap-oob="true"[^>]*data-status="(\w+)"')
ERROR = re.compile(r'<p class="msg-error" role="alert">(.*?)</p>', re.S)
OPENING = 'hx-swap-oob="beforeend:#messages"'
LOG_PROBLEM = re.compile(r"\b(ERROR|CRITICAL|Traceback|Exception)\b")
FRAME_TIMEOUT = 60.0
WARMUP_TURNS = 2


@dataclass
class Turn:
    """What one sent message brought back, with perf_counter times."""

    sent: float
    opened: float | None = None
    finished: float | None = None
    status: str = ""
    error: str = ""
    message_ids: set[str] = field(default_factory=set)
    arrivals: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    other_frames: list[str] = field(default_factory=list)

    @property
    def first_token(self) -> float | None:
        return self.arrivals[0] if self.arrivals else None


# --------------------------------------------------------------------------- setup


def pipo_env(var_dir: Path, ollama_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
    env.update(
        PIPO_VAR_DIR=str(var_dir),
        OLLAMA_HOST=ollama_url,
        DJANGO_SETTINGS_MODULE="pipo.settings",
        # The single chat sends --repeat turns within a minute: the per-person rate limit
        # (30 a minute) would refuse some, and it is not what this measures.
        PIPO_MESSAGE_RATE_LIMIT="0",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def django_setup(env: dict[str, str]) -> None:
    """Point this process's Django at the same SQLite file and secret key as Daphne's."""
    for key in [k for k in os.environ if k.startswith(STRIPPED)]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k != "REDIS_URL"})
    import django

    django.setup()


def people_create(n: int) -> list[tuple[str, int]]:
    """n people, each with a conversation and a signed-in session: (session key, conversation)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import connection

    from accounts.models import User
    from chat.services import conversation_create

    store = import_module(settings.SESSION_ENGINE).SessionStore
    people = []
    for i in range(n):
        email = f"bench{i}@example.test"
        user = User.objects.create_user(username=email, email=email, password=None)
        conversation = conversation_create(user=user)
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        people.append((session.session_key, conversation.pk))
    connection.close()
    return people


def short_term_clear(redis_url: str | None, conversation_ids: list[int]) -> None:
    """Drop leftover short-term buffers of these conversation ids (a fresh database reuses ids)."""
    if not redis_url:
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(*[f"pipo:short-term:{pk}" for pk in conversation_ids])
    finally:
        client.close()


def daphne_start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "pipo.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/accounts/signin/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"Daphne exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"Daphne did not answer within 60 s:\n{log.read_text()[-3000:]}")


def stand_in_prepare(server: OllamaServer) -> list[tuple[str, int]]:
    """Make the stand-in fit for 50 chats at once; returns the list of reset connections.

    Its threading server listens with socketserver's backlog of 5: when more connections
    arrive at once, Linux resets some and PIPO rightly fails those replies ("The connection
    to Ollama broke off mid-reply."), which would measure the stand-in, not PIPO (Ollama's
    Go listener takes the system's backlog). And PIPO's client stops reading at Ollama's
    `done` line, before the end of the chunked body, so closing the response can reset the
    connection: count those instead of letting the server print a traceback for each.
    """
    httpd = server._httpd  # the stand-in's ThreadingHTTPServer
    httpd.socket.listen(128)
    resets: list[tuple[str, int]] = []
    original = httpd.handle_error

    def handle_error(request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError):
            resets.append(client_address)
        else:
            original(request, client_address)

    httpd.handle_error = handle_error
    return resets


# ------------------------------------------------------------------- measurement


async def socket_open(port: int, session_key: str, conversation_id: int) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/ws/chat/{conversation_id}/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={session_key}"},
        open_timeout=FRAME_TIMEOUT,
        max_size=None,
    )


async def turn_run(ws: ClientConnection, message: str) -> Turn:
    """Send one message; read frames up to and including the finished bubble."""
    turn = Turn(sent=time.perf_counter())
    try:
        await ws.send(json.dumps({"message": message}))
        while True:
            frame = await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)
            now = time.perf_counter()
            if token := TOKEN.fullmatch(frame):
                turn.arrivals.append(now)
                turn.message_ids.add(token.group(1))
                turn.texts.append(html.unescape(token.group(2)))
            elif finished := FINISHED.search(frame):
                turn.finished, turn.status = now, finished.group(2)
                turn.message_ids.add(finished.group(1))
                if error := ERROR.search(frame):
                    turn.error = html.unescape(error.group(1))
                return turn
            elif OPENING in frame and turn.opened is None:
                turn.opened = now
            else:
                turn.other_frames.append(frame)
    except TimeoutError:
        turn.status = f"no frame for {FRAME_TIMEOUT:.0f} s"
    except ConnectionClosed as exc:
        turn.status = f"socket closed by Daphne ({exc})"
    turn.finished = time.perf_counter()
    return turn


async def sequential(port: int, person: tuple[str, int], repeat: int) -> list[Turn]:
    ws = await socket_open(port, *person)
    turns = []
    try:
        for i in range(repeat):
            turns.append(await turn_run(ws, f"Tell me something, turn {i}"))
            if turns[-1].status.startswith("socket closed"):
                break
    finally:
        await ws.close()
    return turns


async def concurrent(port: int, people: list[tuple[str, int]]) -> tuple[list[Turn], float]:
    sockets = await asyncio.gather(*(socket_open(port, *person) for person in people))
    return await turns_at_once(sockets)


async def turns_at_once(sockets: list[ClientConnection]) -> tuple[list[Turn], float]:
    """One turn on every open socket, all sent at the same moment; closes them. Wall seconds."""
    go = asyncio.Event()

    async def one(ws: ClientConnection, i: int) -> Turn:
        await go.wait()
        return await turn_run(ws, f"Hello from person {i}")

    try:
        tasks = [asyncio.create_task(one(ws, i)) for i, ws in enumerate(sockets)]
        await asyncio.sleep(0)
        go.set()
        turns = await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    wall = max(t.finished for t in turns) - min(t.sent for t in turns)
    return turns, wall


async def client_alone(repeat: int) -> dict[str, list[float]]:
    """PIPO's Ollama client on the stand-in, no Daphne: first-token ms, gaps, per-token µs."""
    from pipo.llm import llm_chat_stream

    firsts, gaps, spreads = [], [], []
    for i in range(repeat):
        started = time.perf_counter()
        arrivals = []
        stream = llm_chat_stream(model="mistral", messages=[{"role": "user", "content": f"{i}"}])
        async for chunk in stream:
            if chunk.text:
                arrivals.append(time.perf_counter())
        if i >= WARMUP_TURNS:
            firsts.append((arrivals[0] - started) * 1000)
            gaps += [(b - a) * 1e6 for a, b in itertools.pairwise(arrivals)]
            spreads.append((arrivals[-1] - arrivals[0]) / (len(arrivals) - 1) * 1e6)
    return {"first_ms": firsts, "gaps_us": gaps, "per_token_us": spreads}


def client_alone_run(env: dict[str, str], repeat: int) -> dict[str, list[float]]:
    """client_alone in a process of its own, as Daphne is: not sharing the stand-in's GIL."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.chat_stream", "--client-alone", str(repeat)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"llm_chat_stream alone failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


# ----------------------------------------------------------------------- report


def row(label: str, values: list[float], unit: str) -> str:
    return f"  {label:44} {pct(values, 0.5):9.1f} {pct(values, 0.95):9.1f}  {unit}"


def check(turns: list[Turn], reply: str) -> dict:
    expected = tokens_of(reply)
    lost = sum(max(0, len(expected) - len(t.texts)) for t in turns)
    extra = sum(max(0, len(t.texts) - len(expected)) for t in turns)
    reordered = sum(1 for t in turns if len(t.texts) == len(expected) and "".join(t.texts) != reply)
    return {
        "expected": len(expected) * len(turns),
        "received": sum(len(t.texts) for t in turns),
        "lost": lost,
        "extra": extra,
        "reordered": reordered,
        "not_complete": sum(1 for t in turns if t.status != "complete"),
        "failures": sorted({f"{t.status}: {t.error}" for t in turns if t.status != "complete"}),
        "mixed_ids": sum(1 for t in turns if len(t.message_ids) != 1),
        "other_frames": [f for t in turns for f in t.other_frames],
    }


def saved_mismatches(reply: str) -> int:
    """Assistant rows whose saved content or status is not the full, complete reply."""
    from django.db import connection

    from chat.models import Message

    wrong = (
        Message.objects.filter(role=Message.Role.ASSISTANT)
        .exclude(status=Message.Status.COMPLETE, content=reply)
        .count()
    )
    connection.close()
    return wrong


def log_problems(log: Path) -> list[str]:
    return [
        line for line in log.read_text(errors="replace").splitlines() if LOG_PROBLEM.search(line)
    ]


def log_tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def log_warnings(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if " WARNING " in line]


def report(
    args: argparse.Namespace,
    *,
    seq: list[Turn],
    cold: Turn,
    conc: list[Turn],
    wall: float,
    alone: dict[str, list[float]],
    cpu: dict[str, float],
    checks: dict[str, dict],
    wrong_rows: int,
    problems: list[str],
    warnings: list[str],
    resets: int,
    streams: int,
) -> bool:
    """Print the tables; True when the run failed a check."""

    def ms(turns: list[Turn], span) -> list[float]:
        return [span(t) * 1e3 for t in turns]

    layer = f"Redis channel layer ({args.redis})" if args.redis else "in-memory channel layer"
    head = f"  {'':44} {'p50':>9} {'p95':>9}"
    print(
        f"PIPO chat streaming: {args.tokens}-token replies, Ollama stand-in at zero token delay;"
        f"\nDaphne on the {layer}, SQLite; {os.cpu_count()} CPUs\n"
    )
    print(f"One chat, {args.repeat} turns in sequence (after {WARMUP_TURNS} warm-up turns)")
    print(head)
    opened = [t for t in seq if t.opened]
    print(row("send → opening frame", ms(opened, lambda t: t.opened - t.sent), "ms"))
    got = [t for t in seq if t.arrivals]
    print(row("send → first token frame", ms(got, lambda t: t.first_token - t.sent), "ms"))
    gaps = [(b - a) * 1e6 for t in seq for a, b in itertools.pairwise(t.arrivals)]
    print(row("token frame inter-arrival", gaps, "µs"))
    per_token = [(t.arrivals[-1] - t.first_token) / (len(t.arrivals) - 1) * 1e6 for t in got]
    print(row("first → last token, per token (mean)", per_token, "µs"))
    print(row("last token → finished bubble", ms(got, lambda t: t.finished - t.arrivals[-1]), "ms"))
    print(row("send → finished bubble", ms(seq, lambda t: t.finished - t.sent), "ms"))
    if cold.first_token is not None:
        first = (cold.first_token - cold.sent) * 1e3
        print(f"  {'cold first turn: send → first token':44} {first:9.1f}  ms")
    print(row("llm_chat_stream alone: call → first token", alone["first_ms"], "ms"))
    print(row("llm_chat_stream alone: token inter-arrival", alone["gaps_us"], "µs"))
    print(row("llm_chat_stream alone: per token (mean)", alone["per_token_us"], "µs"))

    received = checks[f"{args.chats} chats"]["received"]
    expected = checks[f"{args.chats} chats"]["expected"]
    print(f"\n{args.chats} chats at once, one socket and conversation each")
    print(head)
    started = [t for t in conc if t.arrivals]
    print(row("send → first token frame", ms(started, lambda t: t.first_token - t.sent), "ms"))
    print(row("send → finished bubble", ms(conc, lambda t: t.finished - t.sent), "ms"))
    print(f"  {'tokens received / expected':44} {received} / {expected}")
    print(f"  {'throughput (all tokens / wall time)':44} {received / wall:9.0f} tokens/s", end="")
    print(f" over {wall:.2f} s")
    shares = ", ".join(f"{name} {seconds / wall * 100:.0f} %" for name, seconds in cpu.items())
    print(f"  {'CPU during the burst, % of one core':44} {shares}")
    if cpu["the rest"] / wall > 0.2:
        print("  (other processes were busy during the burst: these figures are low)")

    print("\nChecks")
    for name, result in checks.items():
        print(
            f"  {name:10} lost {result['lost']}, extra {result['extra']}, "
            f"reordered {result['reordered']}, not complete {result['not_complete']}, "
            f"under another message id {result['mixed_ids']}, "
            f"unexpected frames {len(result['other_frames'])}"
        )
        for failure in result["failures"]:
            print(f"    reply {failure}")
        for frame in result["other_frames"][:3]:
            print(f"    unexpected frame: {frame[:200]!r}")
    print(f"  saved replies that differ from the streamed reply: {wrong_rows}")
    print(f"  Daphne log lines with errors: {len(problems)}")
    for line in problems[:20]:
        print(f"    {line}")
    print(f"  (not a failure) Daphne log warnings: {len(warnings)}")
    for line in warnings[:3]:
        print(f"    {line[:200]}")
    print(f"  (not a failure) Ollama streams ended by a connection reset: {resets} of {streams}")
    return bool(
        wrong_rows
        or problems
        or any(
            r["lost"] or r["extra"] or r["reordered"] or r["not_complete"] or r["mixed_ids"]
            for r in checks.values()
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=50, help="concurrent chats (people)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply")
    parser.add_argument("--repeat", type=int, default=30, help="sequential turns of one chat")
    parser.add_argument("--redis", metavar="URL", help="run Daphne with REDIS_URL=URL")
    parser.add_argument("--log", metavar="PATH", help="keep a copy of Daphne's log there")
    parser.add_argument("--client-alone", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_alone:  # the child process of client_alone_run
        import django

        django.setup()
        print(json.dumps(asyncio.run(client_alone(args.client_alone))))
        return 0

    reply = " ".join(f"t{i}" for i in range(args.tokens))
    assert len(tokens_of(reply)) == args.tokens
    repeat = args.repeat + WARMUP_TURNS
    tmp = Path(tempfile.mkdtemp(prefix="pipo-bench-"))
    ollama = OllamaServer(reply=reply, token_delay=0.0).start()
    resets = stand_in_prepare(ollama)
    daphne = None
    people: list[tuple[str, int]] = []
    failed = False
    try:
        env = pipo_env(tmp / "var", ollama.url, args.redis)
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if migrate.returncode:
            raise SystemExit(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
        django_setup(env)
        people = people_create(args.chats + 1)
        short_term_clear(args.redis, [pk for _, pk in people])
        port = free_port()
        log = tmp / "daphne.log"
        daphne = daphne_start(env, port, log)

        alone = client_alone_run(env, repeat)
        seq = asyncio.run(sequential(port, people[0], repeat))
        cold, seq = seq[0], seq[WARMUP_TURNS:] or seq
        before = cpu_seconds(daphne.pid), cpu_seconds(os.getpid()), machine_busy_seconds()
        conc, wall = asyncio.run(concurrent(port, people[1:]))
        daphne_cpu = cpu_seconds(daphne.pid) - before[0]
        own_cpu = cpu_seconds(os.getpid()) - before[1]
        others_cpu = machine_busy_seconds() - before[2] - daphne_cpu - own_cpu

        time.sleep(0.5)  # let Daphne log anything the last frames caused
        failed = report(
            args,
            seq=seq,
            cold=cold,
            conc=conc,
            wall=wall,
            alone=alone,
            cpu={"Daphne": daphne_cpu, "this process": own_cpu, "the rest": others_cpu},
            checks={"one chat": check(seq, reply), f"{args.chats} chats": check(conc, reply)},
            wrong_rows=saved_mismatches(reply),
            problems=log_problems(log),
            warnings=log_warnings(log),
            resets=len(resets),
            streams=len(ollama.requests_for("/api/chat")),
        )
        if failed:
            print("\nFAILED. The end of Daphne's log:")
            print(log_tail(log))
    except Exception:
        if daphne is not None:
            print(f"The end of Daphne's log:\n{log_tail(log)}", file=sys.stderr)
        raise
    finally:
        if daphne is not None:
            process_stop(daphne)
            if args.log:
                shutil.copyfile(tmp / "daphne.log", args.log)
        ollama.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(Exception):
            short_term_clear(args.redis, [pk for _, pk in people])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
