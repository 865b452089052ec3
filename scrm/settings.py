"""The one settings module, configured from the environment (see README "Configuration")."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from scrm import embedded
from scrm.env import env_bool, env_int, env_list, env_str
from scrm.settings_values import queue_names

BASE_DIR = Path(__file__).resolve().parent.parent

# Start embedded PostgreSQL/Redis when the environment names none (the demo default).
EMBEDDED_SERVICES = embedded.ensure_services()

DEBUG = env_bool("DEBUG", default=False)
PRODUCTION = env_bool("SCRM_PRODUCTION", default=False)
if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
else:
    # A development key is fine for the demo and tests; production refuses to start without one.
    SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-key-do-not-use-in-production-0123456789abcdef")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Key for the phone-number keyed hash and field encryption; separate from SECRET_KEY so that
# rotating sessions never makes stored phone numbers unreadable.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY", "" if PRODUCTION else "dev-field-key-change-me")
if PRODUCTION and len(FIELD_ENCRYPTION_KEY) < 32:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be at least 32 characters in production.")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "scrm",
    "contacts",
    "analytics",
    "channels",
    "offers",
    "campaigns",
    "todos",
    "journeys",
    "referrals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "scrm.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "scrm.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "contacts.access.ActorMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "scrm.urls"
WSGI_APPLICATION = "scrm.wsgi.application"
ASGI_APPLICATION = "scrm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "scrm.context.console",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL"), conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
# redis-py names a unix socket ``unix://``; Celery/kombu names it ``redis+socket://``.
REDIS_CLIENT_URL = REDIS_URL.replace("redis+socket://", "unix://", 1)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CLIENT_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "scrm"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): the lockout state is rows in PostgreSQL, so every web process
# sees it. Locked per username (behind a proxy every client shares one address, so an address lock
# would lock everyone out); each failure during the lockout starts the cool-off again.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "scrm.auth.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_VERBOSE = False
# django-axes' login logs hold usernames, IP addresses and user agents: kept this many days, then
# deleted by the daily beat task scrm.auth.login_records_retention (counters go after the cool-off).
LOGIN_LOG_RETENTION_DAYS = env_int("LOGIN_LOG_RETENTION_DAYS", 30)
# axes.W006 warns that a lock without the address can be dodged by rotating user agents or cookies;
# a username lock cannot (the username is the key), and an address lock is wrong behind a proxy.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# API tokens (DRF authtoken, issued in the admin or with `manage.py drf_create_token`) expire this
# many days after they were created and are deleted when their user's password changes.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Chinese first; English available through the language switch.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files straight from the app folders outside production (no collectstatic for the demo).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "scrm.auth.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["contacts.access.HasActor"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "scrm.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "私域 SCRM API",
    "DESCRIPTION": "Customers, tags, segments, channels, campaigns and reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Offline docs: Swagger UI and Redoc are served from the sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get their own components: no read-only fields, and minLength 1 where blank is refused.
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents its refusals (400/403/404/405/415) with one error schema: scrm/openapi.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scrm.openapi.error_responses",
        "scrm.openapi.bounded_values",
    ],
    # Several models have a "kind" field; each choice set gets its own readable name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CustomFieldKindEnum": "contacts.models.CustomFieldKind",
        "CampaignKindEnum": "campaigns.models.CampaignKind",
        "ContactWayKindEnum": "channels.models.ContactWayKind",
        "TransferKindEnum": "channels.models.TransferKind",
        "LedgerKindEnum": "campaigns.models.LedgerKind",
        "TimelineKindEnum": "contacts.models.TimelineKind",
        "SourceChannelEnum": "contacts.models.SourceChannel",
        "LifecycleEnum": "contacts.models.Lifecycle",
        "LeadSourceEnum": "channels.models.LeadSource",
        "OrderSourceEnum": "analytics.models.OrderSource",
        "OrderStatusEnum": "analytics.models.OrderStatus",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "DiscountKindEnum": "offers.models.DiscountKind",
        "ValidityKindEnum": "offers.models.ValidityKind",
        "CouponStatusEnum": "offers.models.CouponStatus",
        "CouponSourceEnum": "offers.models.CouponSource",
    },
}

# Celery: reliability first (see README "Background jobs").
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Longer than any task may run, so an unacknowledged task is redelivered only when its worker died.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Tasks are routed to queues by name prefix, so a task module never names its queue itself.
CELERY_TASK_ROUTES = {
    "channels.inbox.*": {"queue": "inbox"},
    "channels.sync.*": {"queue": "sync"},
    "campaigns.dispatch.*": {"queue": "dispatch"},
    "contacts.imports.*": {"queue": "imports"},
    "analytics.*": {"queue": "reports"},
}
# Every queue a worker of this project consumes (the launcher and docker-compose pass this list).
CELERY_QUEUE_NAMES = queue_names()
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Anything due later than this is a ``due_at`` row that a beat job picks up, never a broker ETA.
CELERY_MAX_COUNTDOWN_SECONDS = 300

# Inbox heartbeat: a worker refreshes an event's heartbeat this often while it processes it; an
# event "processing" whose heartbeat is older than the stale limit is requeued by the sweep (beat,
# every 15 s), so a dead worker's event is picked up again within a minute.
INBOX_HEARTBEAT_SECONDS = env_int("INBOX_HEARTBEAT_SECONDS", 10)
INBOX_STALE_SECONDS = env_int("INBOX_STALE_SECONDS", 45)
# A batch left "attempting" is reconciled against WeCom only once its last attempt is older than the
# outbound call's timeout (connect + read), so a call still in flight cannot be taken for a lost one.
CAMPAIGNS_RECONCILE_AFTER_SECONDS = env_int("CAMPAIGNS_RECONCILE_AFTER_SECONDS", 25)

# Leads that never became a customer (no phone, no consent) are purged after this many days (PIPL).
LEAD_RETENTION_DAYS = env_int("LEAD_RETENTION_DAYS", 180)
# Lead pool (公海): leads and Meituan buyers of the last N days enter the pool (older ones are history).
LEAD_POOL_LOOKBACK_DAYS = env_int("LEAD_POOL_LOOKBACK_DAYS", 30)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "scrm.logging.RedactFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}

# Production hardening (python manage.py check --deploy is clean with SCRM_PRODUCTION=1).
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts only from our own static files — no inline script,
# no inline event handler, no eval (page strings travel as <script type="application/json">, behaviour
# as data-* attributes read by static/js/console.js). Inline styles stay allowed (style attributes and
# per-page <style> blocks; they cannot run code). Images may be https: (WeCom avatars and QR codes).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# The WeCom sidebar runs the staff pages inside WeCom's webview, which frames nothing, so DENY is
# safe; allow an override for embedding behind a portal.
X_FRAME_OPTIONS = os.environ.get("X_FRAME_OPTIONS", "DENY")
SANDBOX_ENABLED = env_bool("SCRM_SANDBOX", default=not PRODUCTION)
