# syntax=docker/dockerfile:1
# The platform's services in one image; docker-compose.yml picks the command per container.
# Three stages: `deps` builds the pinned dependencies' wheels (with a compiler, for any
# dependency without a wheel for the platform), `wheel` builds the platform's own wheel (package
# data declared in pyproject.toml), `runtime` installs both and nothing else: no compiler, no
# pip cache, no source tree, an unprivileged user. tests/unit/test_dockerfile.py checks it.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Only what decides the dependencies: an edit of the source does not rebuild them.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > runtime-requirements.txt \
 && pip wheel --no-cache-dir --wheel-dir /wheels -c requirements.lock -r runtime-requirements.txt

FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /build
COPY pyproject.toml requirements.lock ./
RUN pip install --no-cache-dir -c requirements.lock setuptools
COPY contracts contracts
COPY services services
COPY infra infra
COPY standins standins
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# The dependencies in a layer of their own (it changes only with requirements.lock), then the
# platform from its wheel; the wheels are mounted for the install, never copied into a layer.
RUN --mount=type=bind,from=deps,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    pip install --no-cache-dir --no-index --no-deps /dist/*.whl \
 && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin platform \
 && mkdir -p /data/evidence /data/mail && chown -R platform /data
WORKDIR /data
USER 10001
