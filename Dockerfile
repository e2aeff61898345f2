# syntax=docker/dockerfile:1.7
# carewatch: a multi-stage build on the uv pattern. The final image runs as a non-root
# user; its entrypoint (python -m app start) waits for the database, applies migrations
# once (an advisory lock keeps replicas from racing), then serves on port 8000.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /srv
# Dependencies first: this layer is reused until the lock file changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project
COPY alembic.ini ./
COPY alembic ./alembic
COPY alerts ./alerts
COPY templates ./templates
COPY app ./app

FROM python:3.11-slim
# Pango (and the fonts it lays text out with) for WeasyPrint's PDF reports.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
       libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --create-home --home-dir /home/carewatch carewatch \
    && mkdir -p /srv/var && chown carewatch /srv/var
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /srv /srv
WORKDIR /srv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    CAREWATCH_ENVIRONMENT=production CAREWATCH_LOG_FORMAT=json
USER carewatch
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["python", "-m", "app", "start", "--host", "0.0.0.0", "--port", "8000"]
