"""Settings read the environment once; every real part falls back to its embedded default."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CHROMA_URL",
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
    "SUPABASE_JWT_SECRET",
    "OLLAMA_HOST",
    "OLLAMA_MODEL",
    "SECRET_KEY",
    "DEBUG",
)
PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": "redis" if "redis" in settings.Q_CLUSTER else settings.Q_CLUSTER.get("orm"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "chroma_url": settings.CHROMA_URL,
    "chroma_path": str(settings.CHROMA_PATH),
    "supabase_jwks": settings.SUPABASE_JWKS_URL,
    "supabase_issuer": settings.SUPABASE_JWT_ISSUER,
    "ollama": [settings.OLLAMA_HOST, settings.OLLAMA_MODEL],
    "secret_key": settings.SECRET_KEY,
    "debug": settings.DEBUG,
}))
"""


def settings_with(tmp_path: Path, **variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="pipo.settings", PIPO_VAR_DIR=str(tmp_path), **variables)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_embedded_defaults(tmp_path):
    found = settings_with(tmp_path)
    assert found["db_engine"] == "django.db.backends.sqlite3"
    assert found["db_name"] == str(tmp_path / "pipo.sqlite3")
    assert found["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["broker"] == "default"
    assert found["cache"].endswith("LocMemCache")
    assert found["chroma_url"] == ""
    assert found["chroma_path"] == str(tmp_path / "chroma")
    assert found["supabase_jwks"] == ""
    assert found["ollama"] == ["http://localhost:11434", "mistral"]
    assert found["debug"] is False


def test_local_secret_key_is_made_once_and_kept_private(tmp_path):
    first = settings_with(tmp_path)["secret_key"]
    second = settings_with(tmp_path)["secret_key"]
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert settings_with(tmp_path, SECRET_KEY="from-the-env")["secret_key"] == "from-the-env"


def test_real_components_from_the_environment(tmp_path):
    found = settings_with(
        tmp_path,
        DATABASE_URL="postgres://pipo:pw@db.example:5432/pipo",
        REDIS_URL="redis://127.0.0.1:6379/3",
        CHROMA_URL="http://127.0.0.1:8001",
        SUPABASE_URL="https://abc.supabase.co/",
        OLLAMA_HOST="http://gpu-box:11434/",
        OLLAMA_MODEL="llama3.2",
    )
    assert found["db_engine"] == "django.db.backends.postgresql"
    assert found["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["broker"] == "redis"
    assert found["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert found["chroma_url"] == "http://127.0.0.1:8001"
    assert found["supabase_jwks"] == "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
    assert found["supabase_issuer"] == "https://abc.supabase.co/auth/v1"
    assert found["ollama"] == ["http://gpu-box:11434", "llama3.2"]
