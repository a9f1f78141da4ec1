FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODERATION_DATA_DIR=/data \
    MODERATION_ENV=production

WORKDIR /app
COPY pyproject.toml README.md ./
COPY moderation ./moderation
COPY classifier ./classifier
RUN pip install --no-cache-dir . && useradd --system --home /data moderation \
    && mkdir -p /data && chown moderation /data

USER moderation
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Set REDIS_URL to use your Redis; without it an embedded Redis persists into /data.
CMD ["moderation", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
