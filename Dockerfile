# syntax=docker/dockerfile:1
# The service under gunicorn (`moderation serve`) as an unprivileged user.
#
#   docker build -t moderation .
#   docker run -p 8000:8000 -e MODERATION_SECRET_KEY=... -e REDIS_URL=redis://host:6379/0 \
#       -v moderation-data:/data moderation
#
# compose.yaml runs it next to a Redis with an append-only file. Without REDIS_URL the
# service starts an embedded Redis persisting into /data. Settings: README.md; here
# MODERATION_WORKERS and MODERATION_THREADS size gunicorn.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the package and its dependencies into a virtualenv -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY moderation ./moderation
COPY classifier ./classifier
# Every dependency has a wheel: no compiler needed. pip and setuptools are of no use at
# run time, so they do not reach the image.
RUN /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

# --- run: the virtualenv alone, no sources, no build tools -----------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODERATION_DATA_DIR=/data \
    MODERATION_ENV=production \
    MODERATION_WORKERS=2 \
    MODERATION_THREADS=1
# A fixed numeric id, so that volume ownership and `runAsNonRoot` checks can rely on it.
RUN groupadd --system --gid 10001 moderation \
    && useradd --system --uid 10001 --gid moderation --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin moderation \
    && mkdir /data && chown moderation:moderation /data && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /data
# Comments (embedded Redis), the development key and the models. The workers' metric
# files go to a fresh directory under TMPDIR (/tmp) on each start, not here.
VOLUME ["/data"]
EXPOSE 8000
# The first start trains the default model: allow for it before failures count.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# exec: gunicorn's master is the container's main process and gets its SIGTERM.
CMD ["sh", "-c", "exec moderation serve --host 0.0.0.0 --port 8000 --workers \"$MODERATION_WORKERS\" --threads \"$MODERATION_THREADS\""]
