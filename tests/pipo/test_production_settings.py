"""DJANGO_ENV=production: what `check --deploy` asks for, and refusing to start half-configured.

Settings are read once per process, so each case runs PIPO in a subprocess with its own
environment, on embedded defaults (no DATABASE_URL or REDIS_URL from the test run).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = secrets.token_urlsafe(50)


def environment(var_dir: Path, **variables: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CHROMA_", "SUPABASE_", "DJANGO_"))
        and not k.startswith(("SECURE_", "SESSION_", "CSRF_", "ALLOWED_HOSTS", "SECRET_KEY"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pipo.settings",
        PIPO_VAR_DIR=str(var_dir),
        STATIC_ROOT=str(var_dir / "static"),
        OLLAMA_HOST="http://127.0.0.1:9",
        **variables,
    )
    return env


def production(var_dir: Path, **variables: str) -> dict[str, str]:
    defaults = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "pipo.example.com",
    }
    return environment(var_dir, **{**defaults, **variables})


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


PROBE = """
import json
from django.conf import settings
print(json.dumps({
    name: getattr(settings, name, None)
    for name in (
        "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_PROXY_SSL_HEADER", "STORAGES",
    )
}, default=list))
"""


def probe(env: dict[str, str]) -> dict:
    result = run(env, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_reports_no_issues_in_production(tmp_path):
    result = run(production(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_complains_without_production(tmp_path):
    # The production switch is what silences these: without it the same check warns.
    result = run(environment(tmp_path), "manage.py", "check", "--deploy")
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_production_turns_everything_on(tmp_path):
    found = probe(
        production(tmp_path, DEBUG="true", CSRF_TRUSTED_ORIGINS="https://pipo.example.com")
    )
    assert found["DEBUG"] is False
    assert found["ALLOWED_HOSTS"][0] == "pipo.example.com"
    assert found["CSRF_TRUSTED_ORIGINS"] == ["https://pipo.example.com"]
    assert found["SESSION_COOKIE_SECURE"] and found["CSRF_COOKIE_SECURE"]
    assert found["SESSION_COOKIE_HTTPONLY"] and found["CSRF_COOKIE_HTTPONLY"]
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_HSTS_SECONDS"] == 31_536_000
    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert found["SECURE_PROXY_SSL_HEADER"] is None
    storage = found["STORAGES"]["staticfiles"]["BACKEND"]
    assert storage == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_production_settings_can_be_tuned(tmp_path):
    found = probe(
        production(
            tmp_path,
            SECURE_HSTS_SECONDS="300",
            SECURE_SSL_REDIRECT="false",
            SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto=https",
        )
    )
    assert found["SECURE_HSTS_SECONDS"] == 300
    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_development_keeps_plain_http(tmp_path):
    found = probe(environment(tmp_path))
    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SECURE_HSTS_SECONDS"] == 0
    assert found["SESSION_COOKIE_SECURE"] is False
    assert found["STORAGES"]["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")
    assert "Manifest" not in found["STORAGES"]["staticfiles"]["BACKEND"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SECRET_KEY": ""}, "DJANGO_ENV=production needs SECRET_KEY"),
        ({"ALLOWED_HOSTS": ""}, "DJANGO_ENV=production needs ALLOWED_HOSTS"),
        ({"SECURE_PROXY_SSL_HEADER": "https"}, "SECURE_PROXY_SSL_HEADER takes Header=value"),
        ({"DJANGO_ENV": "prod"}, "DJANGO_ENV must be development or production"),
    ],
)
def test_production_refuses_to_start_half_configured(tmp_path, variables, message):
    result = run(production(tmp_path, **variables), "manage.py", "check")
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


SERVE = """
import django, json
django.setup()
from django.test import Client
client = Client()
plain = client.get("/accounts/signin/")
health = client.get("/healthz")
secure = client.get("/accounts/signin/", headers={"X-Forwarded-Proto": "https"})
cookie = secure.cookies.get("csrftoken")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location", "")],
    "health": health.status_code,
    "secure": secure.status_code,
    "hsts": secure.headers.get("Strict-Transport-Security", ""),
    "cookie": {"secure": cookie["secure"], "httponly": cookie["httponly"]} if cookie else None,
    "page": secure.content.decode(),
}))
"""


def test_production_serves_https_only_with_hashed_static_files(tmp_path):
    env = production(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto=https")
    for command in (("collectstatic", "--noinput"), ("migrate", "--noinput")):
        result = run(env, "manage.py", *command)
        assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    result = run({**env, "ALLOWED_HOSTS": "testserver"}, "-c", SERVE)
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout)
    assert served["plain"] == [301, "https://testserver/accounts/signin/"]
    assert served["health"] == 200  # the container's check over plain HTTP is not redirected
    assert served["secure"] == 200
    assert served["hsts"] == "max-age=31536000; includeSubDomains"
    assert served["cookie"] == {"secure": True, "httponly": True}
    hashed = [f"/static/{name}" for name in manifest["paths"].values()]
    assert any(url in served["page"] for url in hashed), "pages link unhashed static files"
