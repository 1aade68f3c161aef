# One image for the API and the worker:
#   docker run IMAGE                      -> migrate, then serve the API on :8000
#   docker run IMAGE tend worker          -> the scheduler alone
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TEND_ENV=production TEND_LOG_FORMAT=json
WORKDIR /srv/tend

RUN useradd --system --uid 10001 tend
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable install: the migrations directory stays beside the package.
RUN pip install -e . && chown -R tend /srv/tend
USER tend

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "tend migrate && exec tend serve --host 0.0.0.0 --port 8000 --workers ${TEND_WEB_WORKERS:-2}"]
