# One image for the API and the worker:
#   docker run IMAGE                      -> migrate (under a lock), then serve the API on :8000
#   docker run IMAGE tend worker          -> the scheduler alone
# Its health check, `tend healthcheck`, asks the worker's heartbeat where `tend worker` runs
# and GET /healthz otherwise. compose.yaml runs two API replicas, a worker and PostgreSQL.

# Build Tend's wheel (only Tend's own code: its dependencies come from the lock below).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 TEND_ENV=production TEND_LOG_FORMAT=json
# Exact versions and hashes: two builds of one commit install the same dependencies.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
# Not editable: the code lands in site-packages, owned by root and read-only to `tend`.
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist

# The runtime user owns only its home (a SQLite file, if one is used) and /tmp (heartbeat).
RUN useradd --system --uid 10001 --create-home --home-dir /srv/tend tend
WORKDIR /srv/tend
USER tend

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["tend", "healthcheck"]
CMD ["sh", "-c", "tend migrate && exec tend serve --host 0.0.0.0 --port \"${TEND_PORT:-8000}\" --workers \"${TEND_WEB_WORKERS:-2}\""]
