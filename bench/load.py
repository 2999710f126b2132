"""Load: many chats at once over PIPO scaled out (a benchmark, not a test).

    .venv/bin/python -m bench.load --redis redis://127.0.0.1:6379/15 [--sockets 100]

(--redis wants a scratch database number: channel groups and the short-term buffers are
keyed by conversation ids, which the fresh database numbers from 1.)

What runs, each in a process of its own: two Daphne processes sharing the Redis channel
layer, one django-q2 cluster on the Redis broker, a `chroma run` server, a fresh SQLite
file shared by them (DATABASE_URL, when set, is not used), and the Ollama stand-in from
tests/support streaming --tokens tokens --token-delay seconds apart (its own process, so
its threads do not share a GIL with the client). This process is the client: it signs up
--sockets people through the real sign-up page (one person per socket: the per-person
message rate limit stays on), opens one `websockets` chat socket per person, alternating
between the Daphne processes, and sends one message on every socket at once.

It reports tokens lost (every token of every reply must arrive, in order), first-token
overhead (send → first token frame, minus the stand-in's own first-token delay), the
delay added between tokens (inter-arrival gap minus --token-delay), the CPU of each
process, whether every reply row was saved complete, and how long the worker took to
consolidate the burst's messages. Exits 1 when a token was lost or a reply not saved whole.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.chat_stream import Turn, check, log_problems, socket_open, turns_at_once
from bench.common import cpu_seconds, free_port, machine_busy_seconds, pct, process_stop
from tests.support.cluster import PipoCluster, chroma_server_start, person_sign_up
from tests.support.ollama import OllamaServer, tokens_of

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-passphrase-42"
SAVED = """
import json, time
from chat.models import Message
from memory.models import Consolidation
reply = {reply!r}
said = list(Message.objects.filter(role="user").values_list("pk", flat=True))
deadline = time.monotonic() + {wait}
while Consolidation.objects.count() < len(said) and time.monotonic() < deadline:
    time.sleep(0.2)
replies = Message.objects.filter(role="assistant")
print(json.dumps({{
    "replies": replies.count(),
    "complete": replies.filter(status="complete", content=reply).count(),
    "said": len(said),
    "consolidated": Consolidation.objects.count(),
    "consolidated_at": time.time(),
}}))
"""


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its living descendants (django-q2 forks its workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


def reply_text(tokens: int) -> str:
    text = " ".join(f"t{i}" for i in range(tokens))
    assert len(tokens_of(text)) == tokens
    return text


def stand_in_serve(tokens: int, token_delay: float, first_delay: float) -> None:
    """The child process: the Ollama stand-in on a free port (printed), until killed."""
    from bench.chat_stream import stand_in_prepare

    server = OllamaServer(
        reply=reply_text(tokens), token_delay=token_delay, first_token_delay=first_delay
    )
    server.start()
    stand_in_prepare(server)  # a listen backlog for 100 streams at once; resets counted
    print(server.url, flush=True)
    while True:
        time.sleep(3600)


def stand_in_start(args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen, str]:
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.load", "--stand-in", "--tokens",
             str(args.tokens), "--token-delay", str(args.token_delay),
             "--first-token-delay", str(args.first_token_delay)],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the stand-in exited:\n{log.read_text()}")
        for line in log.read_text().splitlines():
            if line.startswith("http://127.0.0.1:"):
                return process, line.strip()
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the stand-in did not start:\n{log.read_text()}")


def people_sign_up(urls: list[str], count: int) -> list[tuple[str, str, int]]:
    """count people through the sign-up page, alternating processes: (url, cookie, chat)."""

    def one(index: int) -> tuple[str, str, int]:
        url = urls[index % len(urls)]
        return (url, *person_sign_up(url, f"load{index}@example.test", PASSWORD))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


async def burst(people: list[tuple[str, str, int]]) -> tuple[list[Turn], float]:
    sockets = await asyncio.gather(
        *(socket_open(int(url.rsplit(":", 1)[1]), cookie, chat) for url, cookie, chat in people)
    )
    return await turns_at_once(sockets)


def row(label: str, values: list[float], unit: str) -> str:
    return f"  {label:48} {pct(values, 0.5):9.1f} {pct(values, 0.95):9.1f}  {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", metavar="URL", help="REDIS_URL of a scratch database")
    parser.add_argument("--sockets", type=int, default=100, help="chats at once (people)")
    parser.add_argument("--daphnes", type=int, default=2, help="Daphne processes")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply")
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds between tokens")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="stand-in's own")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    parser.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stand_in:
        stand_in_serve(args.tokens, args.token_delay, args.first_token_delay)
        return 0
    if not args.redis:
        parser.error("--redis is required (e.g. redis://127.0.0.1:6379/15, a scratch database)")

    reply = reply_text(args.tokens)
    folder = Path(tempfile.mkdtemp(prefix="pipo-load-"))
    load_before = os.getloadavg()
    stand_in, chroma, cluster = None, None, None
    try:
        stand_in, ollama_url = stand_in_start(args, folder / "stand-in.log")
        chroma_port = free_port()
        chroma = chroma_server_start(folder, chroma_port)
        cluster = PipoCluster(
            folder=folder,
            redis_url=args.redis,
            chroma_url=f"http://127.0.0.1:{chroma_port}",
            ollama_url=ollama_url,
            daphnes=args.daphnes,
            extra_env={"PIPO_SUPERSEDE": "false"},  # the stand-in's reply is no JSON verdict
        ).start()
        print(f"signing up {args.sockets + args.daphnes} people ...", flush=True)
        people = people_sign_up(cluster.urls, args.sockets + args.daphnes)
        warm, people = people[: args.daphnes], people[args.daphnes :]
        asyncio.run(burst(warm))  # one reply per process first: imports, connections

        pids = {**cluster.pids(), "stand-in": stand_in.pid, "client": os.getpid()}
        # The client is the parent of every other process here: count only its own CPU.
        own = {"client"}
        measure = {name: (cpu_seconds if name in own else tree_cpu_seconds) for name in pids}
        before = {name: measure[name](pid) for name, pid in pids.items()}
        busy_before = machine_busy_seconds()
        turns, wall = asyncio.run(burst(people))
        cpu = {name: measure[name](pid) - before[name] for name, pid in pids.items()}
        cpu["the rest"] = machine_busy_seconds() - busy_before - sum(cpu.values())
        load_after = os.getloadavg()
        burst_end = time.time()

        worker_before = tree_cpu_seconds(pids["worker"])
        saved = json.loads(
            cluster.query(SAVED.format(reply=reply, wait=300)).strip().splitlines()[-1]
        )
        worker_after = tree_cpu_seconds(pids["worker"]) - worker_before

        result = check(turns, reply)
        delay = args.first_token_delay
        firsts = [(t.first_token - t.sent - delay) * 1e3 for t in turns if t.arrivals]
        added = [
            (b - a - args.token_delay) * 1e3
            for t in turns
            for a, b in itertools.pairwise(t.arrivals)
        ]
        totals = [(t.finished - t.sent) * 1e3 for t in turns]
        problems = [line for name in cluster.processes for line in log_problems(cluster.log(name))]

        print(
            f"\nPIPO under load: {len(turns)} chats at once over {args.daphnes} Daphne processes "
            f"(Redis channel layer and broker, one worker), {args.tokens}-token replies "
            f"{args.token_delay * 1e3:.0f} ms apart; {os.cpu_count()} CPUs"
        )
        print(f"  load average before: {' '.join(f'{v:.2f}' for v in load_before)}; "
              f"after the burst: {' '.join(f'{v:.2f}' for v in load_after)}")  # fmt: skip
        print(f"\n  {'':48} {'p50':>9} {'p95':>9}")
        print(row("first-token overhead (send → first token)", firsts, "ms"))
        print(row("added delay between tokens (gap - token delay)", added, "ms"))
        print(row("send → finished bubble", totals, "ms"))
        ideal = delay + (args.tokens - 1) * args.token_delay
        print(f"  {'(the stand-in alone: first token → last token)':48} {ideal * 1e3:9.1f}  ms")
        received, expected = result["received"], result["expected"]
        print(f"\n  tokens received / expected: {received} / {expected}; lost {result['lost']}, "
              f"extra {result['extra']}, replies out of order {result['reordered']}, "
              f"not complete {result['not_complete']}")  # fmt: skip
        for failure in result["failures"]:
            print(f"    reply {failure}")
        print(f"  reply rows saved complete and whole: {saved['complete']} of {saved['replies']}")
        print(f"  burst wall time {wall:.2f} s, {received / wall:.0f} tokens/s delivered")
        print("  CPU during the burst, % of one core: " + ", ".join(
            f"{name} {seconds / wall * 100:.0f} %" for name, seconds in cpu.items()))  # fmt: skip
        late = saved["consolidated_at"] - burst_end
        print(f"  worker: {saved['consolidated']} of {saved['said']} messages consolidated "
              f"{late:.1f} s after the burst, using {worker_after:.1f} CPU s after it")  # fmt: skip
        print(f"  log lines with errors (Daphne, worker): {len(problems)}")
        for line in problems[:10]:
            print(f"    {line[:200]}")
        failed = bool(
            result["lost"] or result["extra"] or result["reordered"] or result["not_complete"]
            or saved["complete"] != saved["replies"]
        )  # fmt: skip
        if failed:
            print("\nFAILED")
        return 1 if failed else 0
    finally:
        if cluster is not None:
            cluster.stop()
        for process in (chroma, stand_in):
            if process is not None:
                process_stop(process)
        if args.keep:
            print(f"logs kept in {folder}")
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
