# PIPO in one image (docs/deploy.md): `docker compose up -d` runs it with PostgreSQL, Redis
# and Chroma. Alone:
#   docker build -t pipo .
#   docker run --env-file .env -v pipo-var:/app/var pipo python manage.py migrate --noinput
#   docker run --env-file .env -p 8000:8000 -v pipo-var:/app/var pipo               (web)
#   docker run --env-file .env -v pipo-var:/app/var pipo python manage.py qcluster  (worker)

# --- builder: a virtual environment with the pinned requirements, nothing else.
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The CPU build of torch: the default wheel on PyPI for x86_64 carries CUDA (gigabytes).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY requirements.txt /tmp/requirements.txt
# torch first, alone, from the CPU index; the second install then finds it satisfied.
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0 \
 && pip install -r /tmp/requirements.txt torch==2.13.0

# --- runtime: the venv and the code, run as an unprivileged user.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_ENV=production \
    PIPO_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

RUN groupadd --gid 10001 pipo \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin pipo

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .

# Static files go outside var/ (a volume), so a rebuilt image never serves old ones. The
# key and host exist only for this command: production settings refuse to start without.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput \
 && chown -R 10001:10001 /app/var

USER 10001:10001

EXPOSE 8000
VOLUME ["/app/var"]

# /healthz touches nothing (no database, no Redis): it says the process answers. The
# slim image has no curl; python's urllib does, and fails on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "pipo.asgi:application"]
