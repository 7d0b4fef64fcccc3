# acemux in a container: a non-root user, configuration by ACEMUX_* environment
# variables, and a health check on /healthz.
#
# BASE_IMAGE is any image with Python 3.11+ and its venv module (default the
# slim Python image); a locally made Debian base works where no registry can
# be reached. PIP_INSTALL_ARGS can point pip at wheels put in the build
# context, e.g. "--no-index --find-links /app/wheels" (no index then needed).
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
ARG PIP_INSTALL_ARGS=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/acemux/bin:$PATH

WORKDIR /app
# The context minus .dockerignore: pyproject.toml, README.md, acemux/ (and wheels/ if given).
COPY . ./
RUN python3 -m venv /opt/acemux \
    && /opt/acemux/bin/pip install $PIP_INSTALL_ARGS ".[docker]" \
    && rm -rf /app/wheels \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin acemux

USER acemux
ENV ACEMUX_HOST=0.0.0.0 \
    ACEMUX_PORT=8080 \
    ACEMUX_ENGINES=http://acestream:6878
EXPOSE 8080

# /healthz needs no token when ACEMUX_METRICS_OPEN=true; with a token and
# without that flag, point the check at a URL carrying ?token=. It asks the
# port acemux listens on (ACEMUX_PORT).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ACEMUX_PORT', '8080'), timeout=2).status != 200)"]

ENTRYPOINT ["acemux"]
CMD ["serve"]
