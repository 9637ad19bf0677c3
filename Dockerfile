FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY intake intake
COPY router router
COPY deliverers deliverers
COPY ledger ledger
COPY relay relay
RUN pip install --no-cache-dir . && useradd --system relay
USER relay
CMD ["relay", "--help"]
