# PIPO in one image: `docker build -t pipo .` then
#   docker run -p 8000:8000 -v pipo-var:/app/var pipo              (web: Daphne)
#   docker run -v pipo-var:/app/var pipo python manage.py qcluster (worker)
# Configure with the variables of .env.example (DATABASE_URL, REDIS_URL, CHROMA_URL, ...).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# The CPU build of torch: the default wheel on PyPI for x86_64 carries CUDA (gigabytes).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY requirements.txt ./
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0 \
 && pip install -r requirements.txt torch==2.13.0

COPY . .
RUN useradd --create-home --uid 1000 pipo \
 && mkdir -p /app/var \
 && SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && chown -R pipo:pipo /app/var
USER pipo

EXPOSE 8000
VOLUME ["/app/var"]
CMD ["sh", "-c", "python manage.py migrate --noinput && daphne -b 0.0.0.0 -p 8000 pipo.asgi:application"]
