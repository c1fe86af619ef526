# syntax=docker/dockerfile:1
# tracegraph API service image. Used by docker-compose.yml (with Neo4j 5); also runs alone on
# the embedded SQLite store:  docker run -p 8000:8000 -e TRACEGRAPH_STORE=embedded <image>

# The explorer's front-end files (graph library, GraphiQL) are generated and git-ignored: built
# here from the pinned npm packages, exactly as `make explorer` does.
FROM node:20-slim AS explorer
WORKDIR /src
COPY explorer/package.json explorer/package-lock.json ./explorer/
COPY tools/build-explorer ./tools/build-explorer
RUN mkdir -p api/explorer && tools/build-explorer

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Chromium prints the eDHR to PDF (quality.edhr.render_pdf)
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Only what the wheel needs (keeps .venv, .cache, .git and Maven output out of the image).
COPY pyproject.toml README.md ./
COPY ontology ./ontology
COPY shapes ./shapes
COPY graph ./graph
COPY ingest ./ingest
COPY quality ./quality
COPY api ./api
COPY --from=explorer /src/api/explorer/vendor ./api/explorer/vendor
COPY tracegraph ./tracegraph
COPY bench ./bench
RUN pip install .

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tracegraph \
    && mkdir -p /data && chown tracegraph /data
USER tracegraph
WORKDIR /data

ENV TRACEGRAPH_STORE=neo4j \
    NEO4J_URI=bolt://neo4j:7687 \
    TRACEGRAPH_DATA_DIR=/data

EXPOSE 8000
# python:3.11-slim has neither curl nor wget.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/health', timeout=4)"]
CMD ["tracegraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
