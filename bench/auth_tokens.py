"""How long PIPO takes to verify one Supabase access token locally (a benchmark, not a test).

Every API request and every sign-in pays this. Run:

    .venv/bin/python -m bench.auth_tokens [--n 2000]

It starts the GoTrue stand-in from tests/support for each algorithm, warms the JWKS
cache with one token, then times `access_token_verify` on fresh tokens.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from accounts.tokens import access_token_verify, jwks_cache_clear  # noqa: E402
from tests.support.gotrue import GoTrueServer  # noqa: E402


def measure(alg: str, n: int) -> dict:
    with GoTrueServer(alg=alg) as server:
        settings.SUPABASE_URL = server.url
        settings.SUPABASE_JWT_SECRET = server.jwt_secret if alg == "HS256" else ""
        settings.SUPABASE_JWKS_URL = f"{server.issuer}/.well-known/jwks.json"
        settings.SUPABASE_JWT_ISSUER = server.issuer
        jwks_cache_clear()
        tokens = [server.mint_token() for _ in range(n + 1)]
        access_token_verify(token=tokens[0])  # fetches the JWKS once
        timings = []
        for token in tokens[1:]:
            start = time.perf_counter()
            access_token_verify(token=token)
            timings.append((time.perf_counter() - start) * 1e6)
        jwks_fetches = server.count("GET", "/.well-known/jwks.json")
    timings.sort()
    return {
        "alg": alg,
        "p50_us": statistics.median(timings),
        "p95_us": timings[int(len(timings) * 0.95)],
        "jwks_fetches": jwks_fetches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="tokens per algorithm")
    args = parser.parse_args()
    print(f"{'alg':6} {'p50 µs':>8} {'p95 µs':>8} {'JWKS fetches':>13}")
    for alg in ("HS256", "ES256", "RS256"):
        row = measure(alg, args.n)
        print(f"{row['alg']:6} {row['p50_us']:8.0f} {row['p95_us']:8.0f} {row['jwks_fetches']:13d}")


if __name__ == "__main__":
    main()
