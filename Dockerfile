# The relay's image: every `relay` process from one install of the wheel, at the exact versions
# in constraints.txt (the ones CI's smoke test ran; see `make smoke`). compose.yaml runs it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY intake intake
COPY router router
COPY deliverers deliverers
COPY ledger ledger
COPY relay relay
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    RELAY_DATA_DIR=/var/lib/relay
COPY constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --constraint /tmp/constraints.txt /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && useradd --system --no-create-home --home-dir /var/lib/relay relay \
    && mkdir -p /var/lib/relay \
    && chown relay:relay /var/lib/relay
# The data folder (checkpoint log, key files, the embedded ledger) belongs to the relay user,
# so a volume mounted here starts out writable by it.
WORKDIR /var/lib/relay
USER relay
# The API's probe: alive, and its ledger answers. compose.yaml gives the worker and the
# scheduler `relay health --check ROLE` instead. The slim image has no curl: Python asks.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"]
CMD ["relay", "--help"]
