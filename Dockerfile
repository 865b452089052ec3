# Production image: web (gunicorn), Celery worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=scrm.settings SCRM_PRODUCTION=1
WORKDIR /app
RUN groupadd --system scrm && useradd --system --gid scrm --home /app scrm
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY . .
# Front-end assets from the npm registry (verified by hash) at build time; served by WhiteNoise.
RUN python -m scrm.vendor \
 && DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=build-only-build-only-build-only-00 \
    python manage.py collectstatic --noinput
USER scrm
EXPOSE 8000
# Logging (the access log redacted and without query strings) is in scrm/gunicorn_conf.py.
CMD ["gunicorn", "--config", "python:scrm.gunicorn_conf", "scrm.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4"]
