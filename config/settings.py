"""One settings module, driven by environment variables (12-factor).

Defaults serve a first run on one machine: an embedded PostgreSQL when
``DATABASE_URL`` is unset and Celery tasks run in-process when
``CELERY_BROKER_URL`` is unset. With ``DEBUG`` off, a real ``SECRET_KEY``
is required and the server is HTTPS only. Variables missing from the
environment are read from ``.env`` at the project root (``ENV_FILE`` names
another file): ``make`` writes one for local runs, with ``DEBUG=1`` and a
random ``SECRET_KEY``.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured

from config.embedded_db import embedded_database_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

DEBUG = env.bool("DEBUG", default=False)
INSECURE_DEV_KEY = "insecure-dev-key-do-not-use-in-production"
# Keys anyone can read (this file, .env.example, Django's startproject):
# with DEBUG off the server refuses them, and keys too short or too plain to
# sign sessions with (the rule of Django's security.W009).
PUBLISHED_KEYS = (INSECURE_DEV_KEY, "change-me-to-a-long-random-string")
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEV_KEY)
if not DEBUG:
    if SECRET_KEY == INSECURE_DEV_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (production) or DEBUG=1 (development)."
        )
    if (
        SECRET_KEY in PUBLISHED_KEYS
        or SECRET_KEY.startswith("django-insecure")
        or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
        or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
    ):
        raise ImproperlyConfigured(
            "SECRET_KEY is insecure: a published example, or shorter than "
            f"{SECRET_KEY_MIN_LENGTH} characters. Generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(50))'"
        )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])

# HTTPS only with DEBUG off (`manage.py check --deploy` is clean); DEBUG runs
# and the tests speak plain HTTP. Behind a proxy that terminates TLS, set
# SECURE_PROXY_SSL_HEADER=1 (it must set X-Forwarded-Proto). The probes stay
# on plain HTTP for load balancers and container health checks.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
# These bind every subdomain of the operator's domain: their choice, off by default.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "routing",
    "billing",
    "ledger",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.api.nul_refusing_middleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.no_store_with_a_key",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Two roles (DESIGN.md "Trust between the parties", core/db_roles.py,
# docs/DATABASE.md): the application connects as DATABASE_URL's role, which
# owns nothing; migrations run as MIGRATION_DATABASE_URL's role, the owner
# (the same role when unset: a setup without the split). The embedded server
# has both: the owner postgres and the application's role ledger_app.
EMBEDDED_APP_USER = "ledger_app"
if env.str("DATABASE_URL", default=""):
    DATABASES = {
        "default": env.db("DATABASE_URL"),
        "owner": env.db("MIGRATION_DATABASE_URL", default=env.str("DATABASE_URL")),
    }
else:
    embedded = embedded_database_settings(BASE_DIR / ".pgdata")
    DATABASES = {"default": {**embedded, "USER": EMBEDDED_APP_USER}, "owner": embedded}
for database in DATABASES.values():
    # A Unix socket directory is written percent-encoded in a URL's host
    # (postgres://user@%2Fvar%2Frun%2Fpostgresql/db).
    database["HOST"] = unquote(database.get("HOST") or "")
    database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # DESIGN.md "Scale": ingestion classifies a batch with `= ANY(...)` over
    # up to 5,000 external ids (ledger/bulk.py), whose estimated cost can pass
    # jit_above_cost; compiling such a statement takes longer than running it,
    # so the JIT stays out of these short OLTP statements.
    database.setdefault("OPTIONS", {})["options"] = "-c jit=off"
# The role core.db_roles grants to after every migrate.
DATABASE_APP_USER = DATABASES["default"]["USER"]
DATABASE_APP_PASSWORD = DATABASES["default"].get("PASSWORD", "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=None)
# Static files (admin, Swagger UI) are served by WhiteNoise from the
# installed packages, so a bare gunicorn serves them without collectstatic.
WHITENOISE_USE_FINDERS = True

# docs/INGESTION.md "Limits": a request body holds at most 16 MiB (a batch
# of 5,000 calls with ordinary metadata is 2 to 3 MB); more answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=16 * 1024 * 1024)
# DESIGN.md "Trust between the parties": a record more than this ahead of the
# ledger's clock is refused (`in_future`).
MAX_CLOCK_SKEW = timedelta(seconds=env.int("MAX_CLOCK_SKEW_SECONDS", default=300))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["billing.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["billing.auth.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["billing.auth.KeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    # Trusted proxies in front of the server: 0 takes the client address from
    # REMOTE_ADDR and ignores X-Forwarded-For (billing/auth.py client_address).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Outcome Ledger API",
    "DESCRIPTION": "Costs routed LLM calls, records outcomes, bills and settles guarantees.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: the ingestion record schemas come from msgspec's JSON Schema, which
    # writes nullable fields as type unions with "null".
    "OAS_VERSION": "3.1.0",
    "ENUM_NAME_OVERRIDES": {"OutcomeStatusEnum": "ledger.models.OutcomeStatus"},
    # Every operation's error answers, in the one envelope (core/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.error_responses",
    ],
    # Swagger UI from the sidecar package: nothing is fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# Requests per API key and minute, per process; 0 turns the limit off
# (billing/auth.py KeyRateThrottle).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=60_000)
# How long a process trusts an API key it has verified (billing/auth.py).
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# Failed key checks per client address and fixed window, per process; past
# the limit 429 without a database lookup until the window ends; 0 turns it
# off (billing/auth.py AuthFailures, docs/ADMIN.md).
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW_SECONDS = env.int("AUTH_FAILURE_WINDOW_SECONDS", default=60)
# Where each web process appends its route decisions, handing its file over
# every ROUTE_DECISION_SPOOL_SECONDS to ``manage.py decisions_store``, which
# stores them (and passes as often); empty: each decision is inserted in its
# request (ledger/decision_log.py, docs/ROUTING.md "How a decision is
# stored"). The web processes, the storer and the nightly run must see the
# same directory, on a disk that survives them.
ROUTE_DECISION_SPOOL_DIR = env.str("ROUTE_DECISION_SPOOL_DIR", default="")
ROUTE_DECISION_SPOOL_SECONDS = env.float("ROUTE_DECISION_SPOOL_SECONDS", default=0.5)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ACKS_LATE = True
# A pool child that dies mid-task (SIGKILL, out of memory) leaves its message
# unacknowledged, so it is delivered again at once instead of being lost with
# its chain; every task's service is safe to run twice (STYLE.md "Celery
# tasks", docs/SETTLEMENT.md "Crashed workers").
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A whole worker killed mid-task never acknowledges its message; Redis hands
# it to another worker once it has been unacknowledged this long, checked
# every few seconds. Longer than any task plus its retry delay, shorter than
# kombu's one hour (docs/SETTLEMENT.md "Crashed workers").
visibility_timeout_s = env.int("CELERY_VISIBILITY_TIMEOUT_S", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": visibility_timeout_s,
    "unacked_restore_interval": max(1, min(10, visibility_timeout_s // 5)),
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
NIGHTLY_HOUR_UTC = env.int("NIGHTLY_HOUR_UTC", default=2)
# A nightly step retries the contracts it could not do after this many
# seconds, then twice and four times as long (billing/nightly.py).
NIGHTLY_STEP_RETRY_SECONDS = env.int("NIGHTLY_STEP_RETRY_SECONDS", default=10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
