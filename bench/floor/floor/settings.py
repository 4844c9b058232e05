"""Settings of the floor: a bare Django project that bench/submit.py runs next to ours.

It does only what a governed submission must at least do, so ours can be measured against it
in the same run: no middleware at all (no sessions, auth, CSRF, security headers), one app,
one table, one Redis list. What must match ours so the comparison is fair: the Django version
(the same virtualenv), a persistent database connection with the CONN_MAX_AGE ours runs with
(60 s by default, `CONN_MAX_AGE` in the environment for both), autocommit, and no health-check
round trip per request (ours asks the socket instead of sending `SELECT 1`; the floor does not
check at all). The bench passes DATABASE_URL and REDIS_URL; nothing here depends on `governance`.
"""

import os

import dj_database_url

SECRET_KEY = os.environ.get("SECRET_KEY", "floor-bench-only-secret-key-never-a-deployment-key")
DEBUG = False
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = ["floor"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "floor.urls"
WSGI_APPLICATION = "floor.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/governance_bench_floor"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=False,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
# The Redis list each accepted submission is pushed onto (what Celery's `celery` list is for ours).
QUEUE_KEY = "floor"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
