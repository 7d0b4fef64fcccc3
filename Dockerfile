# acemux in a container: a slim Python base, a non-root user, configuration by
# ACEMUX_* environment variables, and a health check on /healthz.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY acemux ./acemux
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin acemux

USER acemux
ENV ACEMUX_HOST=0.0.0.0 \
    ACEMUX_PORT=8080 \
    ACEMUX_ENGINES=http://acestream:6878
EXPOSE 8080

# /healthz needs no token when ACEMUX_METRICS_OPEN=true; with a token and
# without that flag, point the check at a URL carrying ?token=.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]

ENTRYPOINT ["acemux"]
CMD ["serve"]
