"""Settings, read from environment variables only.

Embedded defaults (SQLite in WAL mode, a filesystem broker, the built-in simulator)
need no services; production sets DATABASE_URL, CELERY_BROKER_URL and REDIS_URL.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def email_settings(environ) -> tuple[str, dict]:
    """Django's email backend and SMTP settings from EMAIL_URL or EMAIL_HOST/...; the console when neither is set."""
    url = environ.get("EMAIL_URL", "")
    if url:
        parts = urlsplit(url)
        if parts.scheme == "console":
            return "django.core.mail.backends.console.EmailBackend", {}
        if parts.scheme not in ("smtp", "smtp+tls", "smtp+ssl", "smtps"):
            raise ImproperlyConfigured("EMAIL_URL must start with smtp://, smtp+tls://, smtp+ssl:// or console://.")
        return "django.core.mail.backends.smtp.EmailBackend", {
            "EMAIL_HOST": parts.hostname or "localhost",
            "EMAIL_PORT": parts.port
            or (465 if parts.scheme in ("smtp+ssl", "smtps") else 587 if "tls" in parts.scheme else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
            "EMAIL_USE_SSL": parts.scheme in ("smtp+ssl", "smtps"),
        }
    if environ.get("EMAIL_HOST"):
        return "django.core.mail.backends.smtp.EmailBackend", {
            "EMAIL_HOST": environ["EMAIL_HOST"],
            "EMAIL_PORT": int(environ.get("EMAIL_PORT", "25")),
            "EMAIL_HOST_USER": environ.get("EMAIL_HOST_USER", ""),
            "EMAIL_HOST_PASSWORD": environ.get("EMAIL_HOST_PASSWORD", ""),
            "EMAIL_USE_TLS": environ.get("EMAIL_USE_TLS", "").lower() in ("1", "true", "yes", "on"),
        }
    return "django.core.mail.backends.console.EmailBackend", {}


def owner_login(url: str, database: dict) -> dict:
    """The login `migrate` uses instead of DATABASE_URL's (MIGRATE_DATABASE_URL), or {} when none is set.

    Only the login changes (user, password, host, port, options): the database stays DATABASE_URL's,
    which is also what lets the test run create `test_<name>` with it. See docs/database-roles.md.
    """
    if not url:
        return {}
    owner = dj_database_url.parse(url)
    if database["ENGINE"] != "django.db.backends.postgresql" or owner["ENGINE"] != database["ENGINE"]:
        raise ImproperlyConfigured("MIGRATE_DATABASE_URL is for PostgreSQL, with DATABASE_URL on PostgreSQL too.")
    if owner["NAME"] != database["NAME"]:
        raise ImproperlyConfigured(
            f"MIGRATE_DATABASE_URL names database {owner['NAME']!r}, DATABASE_URL {database['NAME']!r}: "
            "they must name the same database."
        )
    if owner["USER"] == database["USER"]:
        raise ImproperlyConfigured(
            "MIGRATE_DATABASE_URL and DATABASE_URL log in as the same role; the application's role "
            "must be another, which owns nothing (docs/database-roles.md)."
        )
    login = {key: owner[key] for key in ("USER", "PASSWORD", "HOST", "PORT")}
    return {**login, "OPTIONS": {**database.get("OPTIONS", {}), **owner.get("OPTIONS", {})}}


# A SECRET_KEY signs sessions and derives the key that encrypts webhook secrets (governance.lifecycle.signing):
# with DEBUG off, one that could be guessed is refused at start, by every process (web, worker, manage.py).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5


def secret_key_weakness(key: str) -> str:
    """Why `key` is too weak to run with, or "" when it is long and varied enough (Django's own measure)."""
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return f"it uses {len(set(key))} different characters, fewer than {SECRET_KEY_MIN_DISTINCT}"
    return ""


def env_retention_days(name: str) -> int | None:
    """A whole number of days, 1 or more, or unset (None); anything else stops the start with the reason."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        days = int(value)
    except ValueError:
        days = None
    if days is None or days < 1:
        raise ImproperlyConfigured(
            f"{name} must be a whole number of days, 1 or more, or unset to keep everything; got {value!r}."
        )
    return days


DATA_DIR = Path(os.environ.get("GOVERNANCE_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# prometheus_client reads this when it is first imported, so it is set before any app loads:
# every process on this host (gunicorn workers, Celery pool processes) writes its metrics there.
PROMETHEUS_MULTIPROC_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "prometheus")))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)

# The embedded default (no DATABASE_URL) is a local install: DEBUG is on unless said
# otherwise, so manage.py commands work from a fresh clone. Anything configured for
# production turns it off, and then the development SECRET_KEY is refused.
DEBUG = env_bool("DEBUG", "DATABASE_URL" not in os.environ)
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Earlier keys, still accepted for sessions and still decrypting webhook secrets, while SECRET_KEY rotates.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development default while DEBUG is off. Set SECRET_KEY (or DEBUG=1 for local development)."
    )
if not DEBUG and (_weakness := secret_key_weakness(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak to run with DEBUG off: {_weakness}. It signs sessions and encrypts webhook "
        f"secrets; use at least {SECRET_KEY_MIN_LENGTH} random characters, for instance the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' (or DEBUG=1 for local development)."
    )

PORT = int(os.environ.get("PORT", "8000"))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "governance.infra.postgresql",  # `migrate` as the owner of the tables, then the application role's grants
    "governance.infra",
    "governance.audit",
    "governance.accounts",
    "governance.catalog",
    "governance.projects",
    "governance.policies",
    "governance.sso",
    "governance.snapshot_migrations",
    "governance.generations",
    "governance.simulator",
    "governance.dashboard",
    "governance.operations",
    "governance.notifications",
    "governance.content_credentials",
    "governance.lifecycle",
    "governance.exports",
    "governance.management_api",
    "governance.policy_files",
    "governance.demo",
]

MIDDLEWARE = [
    "governance.infra.request_ids.RequestIdMiddleware",
    "governance.operations.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The Videos API and the management API are answered here; what follows is the dashboard's.
    "governance.infra.api_requests.ApiRequestsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees request.htmx and shows messages before MessageMiddleware keeps them for the next page.
    "governance.dashboard.middleware.PageFrameUpdatesMiddleware",
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"
ASGI_APPLICATION = "governance.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_SQLITE_PATH = DATA_DIR / "governance.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# On PostgreSQL, migrations can run as the role that owns the tables and the application as one that
# owns nothing and may only read and append audit rows; `migrate` grants it that (docs/database-roles.md).
MIGRATE_DATABASE_LOGIN = owner_login(os.environ.get("MIGRATE_DATABASE_URL", ""), DATABASES["default"])
DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE") or (
    DATABASES["default"]["USER"] if MIGRATE_DATABASE_LOGIN else ""
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that asks the socket before it asks the server.
    DATABASES["default"]["ENGINE"] = "governance.infra.postgresql"
# The generation row's INSERT is prepared once per session on PostgreSQL (governance/infra/postgresql/base.py);
# 0 behind a connection pooler that does not keep prepared statements.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections are kept between requests (CONN_MAX_AGE) as on PostgreSQL: closing the last connection to a
    # WAL database checkpoints it and deletes its -wal and -shm files, which one connection per request did
    # on every request of a quiet server (about 1 ms each, and file creations that wait on the disk's journal).
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE makes every
        # transaction take the write lock up front, which serialises budget checks.
        # journal_size_limit: connections kept open never delete the -wal file; a checkpoint trims it to 64 MB.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
            "PRAGMA journal_size_limit=67108864;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database is a file so a real worker process can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-governance.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shared cache tells every process when governance state changed; with a Redis
# broker and no REDIS_URL, the broker's Redis serves, so nodes never disagree.
# A process reloads what it remembered of that state after this long in any case, so a change
# whose announcement failed (the cache was away) reaches every process within it.
STATE_MEMORY_MAX_SECONDS = float(os.environ.get("STATE_MEMORY_MAX_SECONDS", "30"))
_broker_url = os.environ.get("CELERY_BROKER_URL", "")
REDIS_URL = os.environ.get("REDIS_URL") or (_broker_url if _broker_url.startswith(("redis://", "rediss://")) else "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "governance.infra.cache_backends.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "governance.infra.cache_backends.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Passwords are checked by accounts' backend (which LOCAL_LOGIN=0 limits to superusers), the OpenID
# provider's sign-in by sso's (which does nothing while OIDC_ISSUER is unset). docs/single-sign-on.md.
AUTHENTICATION_BACKENDS = [
    "governance.accounts.backends.PasswordBackend",
    "governance.sso.backends.ProviderBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True


def _s3_storage(prefix: str) -> dict:
    """django-storages' S3 backend (`pip install '.[s3]'`) from the `<prefix>_S3_*` variables.

    Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the instance's role,
    as boto3 finds them, never from here. An endpoint URL points it at MinIO, Ceph, R2, ...
    """
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ[f"{prefix}_S3_BUCKET"],
            "endpoint_url": os.environ.get(f"{prefix}_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get(f"{prefix}_S3_REGION") or None,
            "location": os.environ.get(f"{prefix}_S3_PREFIX", prefix.lower()),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }


# Uploads (reference images, source and character videos) are written by the web and read by the
# worker: a folder under the data dir by default, which every node must then share; UPLOADS_S3_BUCKET
# puts them in an S3-compatible bucket instead.
if os.environ.get("UPLOADS_S3_BUCKET"):
    STORAGES["default"] = _s3_storage("UPLOADS")

# The archive: every completed generation's video and thumbnail, copied from the provider and signed.
# A folder under the data dir by default; ARCHIVE_S3_BUCKET switches to an S3-compatible bucket.
if os.environ.get("ARCHIVE_S3_BUCKET"):
    STORAGES["archive"] = _s3_storage("ARCHIVE")
else:
    STORAGES["archive"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("ARCHIVE_DIR", str(DATA_DIR / "archive")), "allow_overwrite": True},
    }

# The audit trail's signing key (Ed25519) and its checkpoints, both outside the database (docs/audit.md).
# Unset, the key is made under the data directory on first use, as a development key; production mounts
# its own and names it here. Checkpoints go to a folder, or to a bucket with object lock
# (AUDIT_CHECKPOINT_S3_BUCKET and the AUDIT_CHECKPOINT_S3_* variables, as for the archive).
AUDIT_SIGNING_KEY_FILE = os.environ.get("AUDIT_SIGNING_KEY_FILE", str(DATA_DIR / "audit-signing.key"))
AUDIT_SIGNING_KEY_MADE_ON_FIRST_USE = "AUDIT_SIGNING_KEY_FILE" not in os.environ
AUDIT_CHECKPOINT_DIR = os.environ.get("AUDIT_CHECKPOINT_DIR", str(DATA_DIR / "audit-checkpoints"))
AUDIT_CHECKPOINT_MINUTES = int(os.environ.get("AUDIT_CHECKPOINT_MINUTES", "10"))
if os.environ.get("AUDIT_CHECKPOINT_S3_BUCKET"):
    STORAGES["audit_checkpoints"] = _s3_storage("AUDIT_CHECKPOINT")
    STORAGES["audit_checkpoints"]["OPTIONS"]["file_overwrite"] = False  # a checkpoint is never replaced
else:
    STORAGES["audit_checkpoints"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": AUDIT_CHECKPOINT_DIR, "file_permissions_mode": 0o444},
    }

# Content Credentials (C2PA): the claim-signing key and chain come from files or environment variables
# (CONTENT_SIGNING_CERT_PEM / CONTENT_SIGNING_KEY_PEM hold the PEM text itself), never the database.
# `manage.py create_signing_identity` writes a development identity to CONTENT_SIGNING_DIR.
CONTENT_SIGNING_DIR = Path(os.environ.get("CONTENT_SIGNING_DIR", DATA_DIR / "signing"))
CONTENT_SIGNING_CERT_FILE = os.environ.get(
    "CONTENT_SIGNING_CERT_FILE", str(CONTENT_SIGNING_DIR / "claim-signer-chain.pem")
)
CONTENT_SIGNING_KEY_FILE = os.environ.get("CONTENT_SIGNING_KEY_FILE", str(CONTENT_SIGNING_DIR / "claim-signer.key"))
CONTENT_TRUST_ANCHORS_FILE = os.environ.get("CONTENT_TRUST_ANCHORS_FILE", str(CONTENT_SIGNING_DIR / "ca.pem"))
# Files the verification page accepts, at most.
CONTENT_VERIFY_MAX_BYTES = int(os.environ.get("CONTENT_VERIFY_MAX_BYTES", str(200 * 1024 * 1024)))

# Large JSON bodies are refused with a clear 413; uploads stream to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
INPUT_REFERENCE_MAX_BYTES = int(os.environ.get("INPUT_REFERENCE_MAX_BYTES", str(20 * 1024 * 1024)))
# The largest uploaded video (edit and extension sources, character videos); see docs/api.md, "Uploads".
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(200 * 1024 * 1024)))

# The largest file attached to a migration plan's checklist step as evidence (a pipeline's test report).
EVIDENCE_MAX_BYTES = int(os.environ.get("EVIDENCE_MAX_BYTES", str(20 * 1024 * 1024)))

# Celery: a broker that needs no server by default (kombu's filesystem transport).
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "governance.infra.broker:Transport"  # one redis-py client per channel, not per message
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "governance.infra.broker:FilesystemTransport"  # never hands a worker half a message
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The folder is polled; a fifth of a second keeps a step's wait short at the cost of a cheap listdir.
        "polling_interval": 0.2,
    }
# Generation steps and everything else take the default queue; webhook deliveries have their own, so a slow
# receiver never delays a generation. A worker started without -Q takes both; `make run` and the documented
# production processes start one kind of worker for each (docs/operations.md, "Processes").
CELERY_TASK_DEFAULT_QUEUE = "celery"
WEBHOOK_QUEUE = "webhooks"
# Each queue's routing key is its name (Celery would give both the default's, and each message would reach both).
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, WEBHOOK_QUEUE)]
CELERY_TASK_ROUTES = {
    "governance.lifecycle.tasks.deliver_webhook": {"queue": WEBHOOK_QUEUE},
    "governance.lifecycle.tasks.retry_due_webhook_deliveries": {"queue": WEBHOOK_QUEUE},
}
# The tracker's tasks (tracking.py) on a queue of their own, for a worker of their own; empty: the default queue.
GENERATION_TRACKING_QUEUE = os.environ.get("GENERATION_TRACKING_QUEUE", "")
if GENERATION_TRACKING_QUEUE:
    CELERY_TASK_ROUTES |= {
        f"governance.generations.tasks.{name}": {"queue": GENERATION_TRACKING_QUEUE}
        for name in ("track_generations", "poll_generations")
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is set (then every this many
# tasks). A new PostgreSQL connection per task cost the worker ~2 ms and the server a new backend; the worker keeps
# it instead as a web process does between requests, for CONN_MAX_AGE and checked before reuse (governance/celery.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a worker when the broker is away: the dispatcher and the sweep send it again.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# Worker log lines go through the LOGGING below, so they carry the request id like the web's.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "dispatch-new-generations": {
        "task": "governance.generations.tasks.dispatch_new_generations",
        "schedule": timedelta(seconds=float(os.environ.get("GENERATION_DISPATCH_SECONDS", "1"))),
        "options": {"expires": 10},  # a busy worker's backlog of ticks is dropped; the next one sends everything
    },
    "sweep-stalled-generations": {
        "task": "governance.generations.tasks.sweep_stalled_generations",
        "schedule": timedelta(seconds=int(os.environ.get("SWEEP_INTERVAL_SECONDS", "15"))),
    },
    "settle-budget-leases": {
        "task": "governance.generations.tasks.settle_budget_leases",
        "schedule": timedelta(seconds=int(os.environ.get("SWEEP_INTERVAL_SECONDS", "15"))),
    },
    "track-generations": {
        "task": "governance.generations.tasks.track_generations",
        "schedule": timedelta(seconds=float(os.environ.get("GENERATION_TRACK_SECONDS", "1") or "0") or 3600),
        # As the dispatcher's: a busy worker's backlog of ticks is dropped; the next tick polls what they would have.
        "options": {"expires": 10},
    },
    "expire-idempotency-keys": {
        "task": "governance.generations.tasks.expire_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    "apply-generation-retention": {
        "task": "governance.generations.tasks.apply_generation_retention",
        "schedule": timedelta(hours=1),
    },
    "check-rollout-health": {
        "task": "governance.snapshot_migrations.tasks.check_rollout_health",
        "schedule": timedelta(seconds=int(os.environ.get("ROLLOUT_HEALTH_INTERVAL_SECONDS", "60"))),
    },
    "sync-catalog": {
        "task": "governance.lifecycle.tasks.sync_catalog",
        "schedule": timedelta(minutes=int(os.environ.get("CATALOG_SYNC_MINUTES", "360"))),
    },
    "raise-shutdown-alerts": {
        "task": "governance.lifecycle.tasks.raise_shutdown_alerts",
        "schedule": timedelta(hours=1),
    },
    "retry-webhook-deliveries": {
        "task": "governance.lifecycle.tasks.retry_due_webhook_deliveries",
        "schedule": timedelta(minutes=10),
    },
    "write-audit-checkpoint": {
        "task": "governance.audit.tasks.write_audit_checkpoint",
        "schedule": timedelta(minutes=AUDIT_CHECKPOINT_MINUTES),
    },
    "publish-state": {
        "task": "governance.infra.tasks.publish_state",
        "schedule": timedelta(seconds=int(os.environ.get("STATE_PUBLISH_SECONDS", "10"))),
    },
    "recheck-sso-users": {
        "task": "governance.sso.tasks.recheck_sso_users",
        "schedule": timedelta(seconds=int(os.environ.get("OIDC_RECHECK_EVERY_SECONDS", "300"))),
    },
    "audit-counted-sign-in-failures": {
        "task": "governance.accounts.tasks.audit_counted_sign_in_failures",
        "schedule": timedelta(minutes=1),
    },
}

# Email (lifecycle alerts): EMAIL_URL such as smtp+tls://user:password@mail.example.com:587, or
# EMAIL_HOST with EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS; without either,
# mail is printed to the console. SITE_URL makes the links in emails absolute.
EMAIL_BACKEND, _email = email_settings(os.environ)
globals().update(_email)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "snapshot-governance@localhost")
SITE_URL = os.environ.get("SITE_URL", f"http://127.0.0.1:{PORT}")
# Outgoing webhooks go to public addresses only unless this is set (receivers on a private network).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# One delivery attempt (connecting, sending, reading the answer) ends after this long, however the receiver trickles.
WEBHOOK_ATTEMPT_SECONDS = float(os.environ.get("WEBHOOK_ATTEMPT_SECONDS", "10"))

# The built-in simulator (an unauthenticated fake provider) is served by this web
# server for the embedded default, demos and tests; production leaves it off.
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", DEBUG)
SIMULATOR_BASE_URL = os.environ.get("SIMULATOR_BASE_URL", f"http://127.0.0.1:{PORT}/simulator/v1")
# How long the simulated providers' result links work, as real ones expire (BytePlus' after 24 h).
# Short by default, so that the archive's copy is what a download reads soon after a video is made.
SIMULATOR_LINK_SECONDS = int(os.environ.get("SIMULATOR_LINK_SECONDS", "600"))
# The simulated providers post their completion callbacks from a thread of each web process (off: nobody posts).
SIMULATOR_CALLBACKS = env_bool("SIMULATOR_CALLBACKS", True)
# "60-300": every simulated job runs a random time in that range (seconds), whatever its snapshot's profile says.
SIMULATOR_JOB_SECONDS = os.environ.get("SIMULATOR_JOB_SECONDS", "")

# How long an unfinished generation may go unattended before the sweep re-enqueues it.
GENERATION_STALL_SECONDS = int(os.environ.get("GENERATION_STALL_SECONDS", "30"))
# How long a process pays budgeted submissions from one lease on the month's budget (generations.budget_leases);
# 0: every budgeted submission reserves its cost on the month's spend row.
BUDGET_LEASE_SECONDS = float(os.environ.get("BUDGET_LEASE_SECONDS", "10"))
# How long one worker step may take (a policy re-check and one upstream call, within the
# provider's timeouts) before the sweep may hand the generation to another worker.
GENERATION_STEP_LEASE_SECONDS = int(os.environ.get("GENERATION_STEP_LEASE_SECONDS", "120"))
# A job the provider has not finished this long after it took it is given up (and cancelled there, where it can be).
GENERATION_MAX_UPSTREAM_SECONDS = int(os.environ.get("GENERATION_MAX_UPSTREAM_SECONDS", str(3 * 3600)))
# Jobs in flight (docs/providers.md#polling): the tracker looks for jobs due a poll this often (seconds; 0 turns
# it off, and every job is polled by a message of its own). A job is polled every GENERATION_POLL_MIN_SECONDS
# until that is less than GENERATION_POLL_SHARE of its age, then every GENERATION_POLL_SHARE of its age;
# GENERATION_POLL_BATCH jobs of one provider at most per poll message (and per call, where the provider lists
# jobs by id).
GENERATION_TRACK_SECONDS = float(os.environ.get("GENERATION_TRACK_SECONDS", "1") or "0")
GENERATION_POLL_MIN_SECONDS = float(os.environ.get("GENERATION_POLL_MIN_SECONDS", "3.5"))
GENERATION_POLL_SHARE = float(os.environ.get("GENERATION_POLL_SHARE", "0.07"))
GENERATION_POLL_BATCH = int(os.environ.get("GENERATION_POLL_BATCH", "50"))
# 0.9: no poll before 90 % of the snapshot's shortest recent job (fewer polls, but a job finishing sooner than
# any before it is seen late); 0, the default: polls from the start.
GENERATION_POLL_FIRST_SHARE = float(os.environ.get("GENERATION_POLL_FIRST_SHARE", "0"))
# The gateway's public origin for providers' completion callbacks (https://gateway.example.com); empty: no
# callbacks, polling only. With it, providers that call back are polled GENERATION_POLL_CALM_FACTOR times less.
GENERATION_CALLBACK_URL = os.environ.get("GENERATION_CALLBACK_URL", "").rstrip("/")
# A provider calls back once per job (a few times if it retries); more a minute only make the gateway poll it again.
GENERATION_CALLBACKS_PER_MINUTE = int(os.environ.get("GENERATION_CALLBACKS_PER_MINUTE", "10"))
GENERATION_POLL_CALM_FACTOR = float(os.environ.get("GENERATION_POLL_CALM_FACTOR", "4"))
# How long an Idempotency-Key is remembered (a retry after that is a new request).
IDEMPOTENCY_KEY_HOURS = int(os.environ.get("IDEMPOTENCY_KEY_HOURS", "24"))

# Keep the generation log this many days (unset: keep everything). Audit events are never deleted.
GENERATION_RETENTION_DAYS = env_retention_days("GENERATION_RETENTION_DAYS")

# /readyz wants a worker heartbeat younger than this; workers record one every WORKER_HEARTBEAT_SECONDS.
WORKER_HEARTBEAT_SECONDS = int(os.environ.get("WORKER_HEARTBEAT_SECONDS", "15"))
WORKER_HEARTBEAT_MAX_AGE_SECONDS = int(os.environ.get("WORKER_HEARTBEAT_MAX_AGE_SECONDS", "60"))
# When set, /metrics answers only a request with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Every log line carries the id of the request (or the generation's request, in the worker).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json'; got {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "governance.infra.request_ids.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Refused requests are expected and recorded in the generation log; log only server errors.
        "django.request": {"level": "ERROR"},
        # httpx logs every request's full URL at INFO: a provider's signed result link is a bearer secret.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Session and CSRF cookies travel over HTTPS only, unless DEBUG (or SECURE_COOKIES=0 for plain HTTP).
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
# Behind TLS (directly or through a proxy that sets X-Forwarded-Proto), turn these on.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Probes and scrapers inside the network speak plain HTTP to a node.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Everything, htmx included, comes from our own static files; no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# How many proxies of ours stand in front of the web server, each appending to X-Forwarded-For:
# the client's address is then the one that many places from the right. 0: REMOTE_ADDR, the header ignored.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# Login throttling: this many failed sign-ins for one username, or from one client address (0: no
# limit per address), within the window lock further attempts out for LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_LIMIT_PER_IP = int(os.environ.get("LOGIN_FAILURE_LIMIT_PER_IP", "20"))
LOGIN_FAILURE_WINDOW_MINUTES = int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "15"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))

# Local passwords: LOCAL_LOGIN=0 takes the password form off the sign-in page and refuses its posts;
# only superusers (break-glass accounts made with `createsuperuser`) may still sign in with a password,
# at the admin's sign-in page. docs/single-sign-on.md.
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)

# Single sign-on with an OpenID Connect provider (docs/single-sign-on.md): on when OIDC_ISSUER is set.
# Its endpoints come from <issuer>/.well-known/openid-configuration unless named here one by one.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile groups")
OIDC_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_TOKEN_ENDPOINT = os.environ.get("OIDC_TOKEN_ENDPOINT", "")
OIDC_USERINFO_ENDPOINT = os.environ.get("OIDC_USERINFO_ENDPOINT", "")
OIDC_JWKS_URI = os.environ.get("OIDC_JWKS_URI", "")
OIDC_SIGN_ALGO = os.environ.get("OIDC_SIGN_ALGO", "RS256")
# The claim that lists the user's groups, and the one their username is made from on their first sign-in.
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
# Which groups grant which roles, besides the mappings kept in the admin: `group=project:role` or
# `group=auditor`, separated by `;` (for instance "video-devs=shop:developer;compliance=auditor").
OIDC_ROLE_MAP = os.environ.get("OIDC_ROLE_MAP", "")
# A session of a user who signed in through the provider ends once the provider has not confirmed them
# (at sign-in, or at its userinfo endpoint while their access token lasts) for this long.
OIDC_RECHECK_SECONDS = int(os.environ.get("OIDC_RECHECK_SECONDS", "3600"))
OIDC_TIMEOUT_SECONDS = float(os.environ.get("OIDC_TIMEOUT_SECONDS", "10"))
if OIDC_ISSUER and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too (docs/single-sign-on.md)."
    )
