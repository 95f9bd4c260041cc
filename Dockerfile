# The REST service (and the watcher, with another command). Build: docker build -t id-redactor .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REDACTOR_DATA_DIR=/data \
    REDACTOR_KEY_DIR=/data/keys

WORKDIR /src

# Debian packages: the same list and the same script as CI (.ci/run), so the two cannot drift.
COPY scripts/ scripts/
RUN bash scripts/install-system-packages.sh && rm -rf /var/lib/apt/lists/*

# The models ship inside the Python wheels, and one (PP-OCRv6 tiny, copied from a PyPI wheel)
# in models/: nothing is downloaded at run time. A plain install: models/ (document layouts,
# that model) is package data of redactor.models, so nothing is read from the source tree at
# run time, and it is removed to prove it.
COPY pyproject.toml README.md ./
COPY redactor/ redactor/
COPY models/ models/
COPY api/ api/
COPY watchfolder/ watchfolder/
COPY evaluation/ evaluation/
COPY sweep/ sweep/
RUN pip install . && cd / && rm -rf /src
WORKDIR /

RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home redactor \
    && mkdir -p /data/watch /keys && chown redactor:redactor /data /data/watch /keys
USER redactor
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["redactor", "serve", "--host", "0.0.0.0"]
