"""Test settings: the real settings, with the embedded pieces made private to the test run.

DATABASE_URL and REDIS_URL still come from the environment, so `.ci/run` runs the
same suite on PostgreSQL and Redis. Supabase is off unless a test switches it on against
the GoTrue stand-in; Ollama points at a port where nothing listens unless a test starts
the Ollama stand-in.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("PIPO_VAR_DIR", tempfile.mkdtemp(prefix="pipo-test-var-"))
for variable in ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_JWT_SECRET", "CHROMA_URL"):
    os.environ.pop(variable, None)

from pipo.settings import *  # noqa: E402, F403
from pipo.settings import DATABASES, Q_CLUSTER, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared-cache memory database: threads racing in a test then meet
    # SQLite's real locking (WAL, busy timeout), as the web process and the worker do.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(VAR_DIR) / "test.sqlite3")}

CHROMA_PATH = Path(VAR_DIR) / "chroma"
OLLAMA_HOST = "http://127.0.0.1:9"  # discard port: connection refused
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
SUPABASE_JWKS_COOLDOWN_SECONDS = 0.0
# Off, so tests sending many messages as the same user pk within a minute don't trip it;
# the tests of the limit switch it on.
PIPO_MESSAGE_RATE_LIMIT = 0
