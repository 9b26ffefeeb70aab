"""Django settings: one source, every value from the environment through dashboard.env.

Defaults work on a developer machine with Postgres and Redis on 127.0.0.1; production sets
the variables (see the configuration table in README.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from dashboard.env import (
    env_bool,
    env_database,
    env_float,
    env_int,
    env_list,
    env_redis_url,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# Sessions, CSRF tokens and password resets are signed with this key: with DEBUG off it must be
# set (a known default would let anyone forge them); DEBUG on, a development key stands in.
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY: required when DEBUG is off; set it to a long random string, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "dev-only-insecure-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ops",
    "dashboard",
    # Login throttling (per username and client address); brings its own migrations.
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware: static files get the security headers and nothing else.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, so it sees every dynamic answer and never a static file.
    "dashboard.middleware.NoStoreMiddleware",
    # The Content-Security-Policy header on every dynamic answer (pages, API, login, errors).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every page needs a login, except the few views marked login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # A NUL or control character in any query or form value is a 400 before a view runs. After
    # the login check, so a logged-out request is sent to the login page, not shown a page of ours.
    "dashboard.params.EdgeMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Content-Security-Policy (django-csp) ---
# One fixed policy, no nonces: the pages carry no inline script, no inline event handler and
# no inline style (chart data travels as a json_script <script type="application/json">, which
# is data, not code). Why each directive:
# - script-src 'self': htmx and Plotly are vendored (static/vendor/) and static/js/ draws the
#   charts; no 'unsafe-eval' — htmx runs with allowEval off (base.html's htmx-config) and the
#   basic Plotly bundle needs no eval.
# - style-src 'self', no 'unsafe-inline': plotly.js would inject its global rules as an inline
#   <style>; static/vendor/plotly.css carries them instead (its <link> tells plotly.js not to
#   inject). Everything else Plotly and htmx style goes through element.style (the CSSOM),
#   which CSP does not govern; chart annotations carry no <a> (plotly.js writes a style
#   attribute on those), deploy labels are followed from charts.js instead. htmx's indicator
#   <style> is turned off in the same htmx-config.
# - images, fonts and fetches fall back to default-src 'self' (the modebar's icons are inline
#   SVG, live refresh and zoom fetch from this origin).
# - object-src, base-uri 'none'; frame-ancestors 'none' (nothing embeds these pages);
#   form-action 'self'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "dashboard.context.navigation",
            ],
        },
    }
]

DATABASES = {"default": env_database("DATABASE_URL", "postgres://root@127.0.0.1:5432/lambdaops")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "lambdaops"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out username+address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# --- HTTPS and security headers (the Content-Security-Policy is set with the scripts) ---
# HTTPS=true says users reach the product over HTTPS (directly or through a proxy that
# terminates TLS): cookies become Secure, plain HTTP is redirected, and browsers are told to
# use HTTPS only (HSTS). Off by default because `make demo` serves plain HTTP on 127.0.0.1.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# Load balancers and compose probe /healthz over plain HTTP inside the network; a redirect
# would hide its 503.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# A TLS-terminating proxy tells Django the original scheme in X-Forwarded-Proto. Trust it only
# behind such a proxy (which must overwrite the header): anyone can send it otherwise.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
# HSTS: a year once HTTPS is on. includeSubDomains covers only names under the product's own
# host. Preload is opt-in: once a domain is on browsers' preload list it cannot quickly leave it.
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Links out (the AWS console, runbooks) must not carry our URLs, which name functions and filters.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Login throttling (django-axes) ---
# A username tried from one address is locked after LOGIN_FAILURE_LIMIT wrong passwords for
# LOGIN_LOCKOUT_MINUTES; the same user from another address, and other users, still log in.
# A wrong try during the lockout starts the wait again.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.views.auth.lockout"
AXES_USERNAME_CALLABLE = "dashboard.views.auth.attempted_username"
# Behind proxies, the client address is the one the nearest TRUSTED_PROXIES hops put in
# X-Forwarded-For; with none, the socket's address (X-Forwarded-For would be the client's word).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0, maximum=5)
AXES_CLIENT_IP_CALLABLE = "dashboard.views.auth.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

# --- Static files: collected, hashed, compressed, served by WhiteNoise ---
# `manage.py collectstatic` (the demo, the Dockerfile, the test session) writes each file under
# a content-hashed name with .gz and .br beside it; WhiteNoise serves those names with a
# far-future immutable Cache-Control, so a browser fetches each version once. A template that
# names a file that was never collected fails loudly (manifest_strict), in tests too.
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serving straight from static/ is for development only: those names are not hashed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Celery (names read by dashboard.celery through config_from_object namespace="CELERY") ---
CELERY_BROKER_URL = env_redis_url("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None  # tasks record their outcome in Postgres (poll status, jobs)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# acks_late is set per task (ops/tasks/*): pollers are idempotent and ack late, actions ack
# early because the job runner and its sweeper own crash recovery. A late-acked task whose
# worker died is requeued rather than acknowledged.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=5)
CELERY_TASK_DEFAULT_QUEUE = "pollers"
# A worker takes a message from Redis only when it has a free process to run it, so a message
# is unacknowledged only while it runs (late-acked pollers) or for the instant before it starts
# (early-acked actions), never while it waits behind a long job.
CELERY_WORKER_DISABLE_PREFETCH = True
# Longest wait before a poll task's retry (ops/tasks/pollers.py RETRY, exponential backoff).
CELERY_POLL_RETRY_BACKOFF_MAX = 300
# Redis hands an unacknowledged message to another worker after the visibility timeout, which
# is how a SIGKILLed worker's tasks come back. Kombu's default is an hour; it must only outlast
# the longest a late-acked task may hold its message: a retry's countdown (held until due) plus
# the task's hard time limit, plus a margin. Early-acked actions (ops/tasks/actions.py, up to
# 31 min) release theirs when they start, so their limit does not count.
# tests/ops/tasks/test_queues.py checks this against every registered task.
CELERY_VISIBILITY_MARGIN_SECONDS = 60
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_POLL_RETRY_BACKOFF_MAX + CELERY_TASK_TIME_LIMIT + CELERY_VISIBILITY_MARGIN_SECONDS,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Jobs (ops/actions/runner.py) ---
# A running job's worker touches heartbeat_at this often; the sweeper presumes the worker lost
# when the heartbeat is older than JOB_STALE_SECONDS (several beats, so one slow UPDATE is not
# a death), and runs every JOB_SWEEP_SECONDS.
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 10.0, minimum=0.1)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 60, minimum=1)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 30, minimum=1)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1, maximum=10)  # claims of a resumable job
if JOB_STALE_SECONDS < 3 * JOB_HEARTBEAT_SECONDS:
    # Fewer than three missed beats would have the sweeper resume or fail jobs that are alive.
    raise ImproperlyConfigured(
        f"JOB_STALE_SECONDS ({JOB_STALE_SECONDS}) must be at least three heartbeats"
        f" (3 × JOB_HEARTBEAT_SECONDS = {3 * JOB_HEARTBEAT_SECONDS:g})"
    )

# --- DLQ redrive (ops/actions/redrive) ---
# The product's own loop re-delivers at most this many messages per second (SQS and Lambda
# quotas are per account×region, shared with the workload being repaired).
REDRIVE_RATE_PER_SECOND = env_float("REDRIVE_RATE_PER_SECOND", 50.0, minimum=0.1)
# How long a received message stays invisible while its batch is re-delivered and deleted;
# a run resumed after a crash waits this long for messages the lost worker still held.
REDRIVE_VISIBILITY_SECONDS = env_int("REDRIVE_VISIBILITY_SECONDS", 60, minimum=2, maximum=43_200)
# Tries of one re-delivery after a transient failure (throttling, 5xx) before it counts as failed.
REDRIVE_SEND_ATTEMPTS = env_int("REDRIVE_SEND_ATTEMPTS", 4, minimum=1, maximum=10)
# The most messages one job may select (each is a row and a progress step).
REDRIVE_MAX_MESSAGES = env_int("REDRIVE_MAX_MESSAGES", 100_000, minimum=1)

# --- AWS ---
AWS_REGIONS = env_list("AWS_REGIONS", "us-east-1")
AWS_ENDPOINT_URL = env_url("AWS_ENDPOINT_URL", "")  # boto3 honours it on its own; kept here for /healthz and docs
AWS_CONNECT_TIMEOUT = env_float("AWS_CONNECT_TIMEOUT", 3.0, minimum=0.1)
AWS_READ_TIMEOUT = env_float("AWS_READ_TIMEOUT", 20.0, minimum=0.1)
AWS_MAX_ATTEMPTS = env_int("AWS_MAX_ATTEMPTS", 3, minimum=1, maximum=10)

# --- Polling ---
INVENTORY_POLL_SECONDS = env_int("INVENTORY_POLL_SECONDS", 300, minimum=10)
INVENTORY_DETAIL_REFRESH_SECONDS = env_int("INVENTORY_DETAIL_REFRESH_SECONDS", 3600, minimum=60)
METRICS_POLL_SECONDS = env_int("METRICS_POLL_SECONDS", 60, minimum=10)
LOGS_POLL_SECONDS = env_int("LOGS_POLL_SECONDS", 60, minimum=10)
# CloudTrail (ops/pollers/changes/): events usually appear within 5 minutes of the call, so each
# run re-reads the trailing part of the last one; LookupEvents allows 2 requests/s, 50 a page.
CHANGES_POLL_SECONDS = env_int("CHANGES_POLL_SECONDS", 60, minimum=10)
CHANGES_TRAILING_SECONDS = env_int("CHANGES_TRAILING_SECONDS", 900, minimum=60)
CHANGES_INITIAL_BACKFILL_SECONDS = env_int("CHANGES_INITIAL_BACKFILL_SECONDS", 86400, minimum=60, maximum=90 * 86400)
CHANGES_MAX_PAGES = env_int("CHANGES_MAX_PAGES", 100, minimum=1)
# DLQs (ops/pollers/dlq/): depth from GetQueueAttributes and a peek at the messages each run.
# A peek is a receive: it holds what it read invisible for at most DLQ_PEEK_HOLD_SECONDS, then
# hands every message back (visibility 0); the visibility timeout only matters if a worker dies
# mid-peek (the messages come back by themselves). FIFO queues are peeked with the shortest
# timeout that covers the hold, since a receive also holds the message group.
DLQ_POLL_SECONDS = env_int("DLQ_POLL_SECONDS", 60, minimum=10)
DLQ_PEEK_MAX_MESSAGES = env_int("DLQ_PEEK_MAX_MESSAGES", 1000, minimum=0, maximum=100_000)
DLQ_PEEK_VISIBILITY_SECONDS = env_int("DLQ_PEEK_VISIBILITY_SECONDS", 30, minimum=1, maximum=43_200)
DLQ_PEEK_HOLD_SECONDS = env_float("DLQ_PEEK_HOLD_SECONDS", 5.0, minimum=0.05)

# A scope × source with no successful cycle for this many of its cadences is failing (status
# page, /healthz 503); fewer missed cycles show as degraded (ops/pollers/health.py).
POLL_FAILING_CYCLES = env_int("POLL_FAILING_CYCLES", 3, minimum=1, maximum=100)

# --- Telemetry ingestion (ops/pollers/metrics/, logs/, rollup.py) ---
# Detection comes from the account × region aggregates read every run (ops.rules.trigger), so
# per-function detail is read on a slower, cheaper cadence: busy functions (invoked in the last
# hour) every METRICS_BUSY_POLL_SECONDS, idle ones every METRICS_IDLE_POLL_SECONDS (1-minute
# points either way; only freshness is traded). The defaults meet $0.45 per busy and $0.08 per
# idle function-month (bench/bench_trigger.py). A trigger brings the scope's functions invoked
# within DETECT_BUSY_HOURS to every run until DETECT_COOLDOWN_SECONDS after its last breach.
METRICS_BUSY_POLL_SECONDS = env_int("METRICS_BUSY_POLL_SECONDS", 1200, minimum=60)
METRICS_IDLE_POLL_SECONDS = env_int("METRICS_IDLE_POLL_SECONDS", 1800, minimum=60)
DETECT_BUSY_HOURS = env_int("DETECT_BUSY_HOURS", 3, minimum=1, maximum=48)
DETECT_COOLDOWN_SECONDS = env_int("DETECT_COOLDOWN_SECONDS", 600, minimum=0)
# The part of each scope's metrics share the steady plan leaves unspent for triggered detail.
DETECT_TRIGGER_RESERVE = env_float("DETECT_TRIGGER_RESERVE", 0.25, minimum=0.0)
if DETECT_TRIGGER_RESERVE >= 1:
    raise ImproperlyConfigured(f"DETECT_TRIGGER_RESERVE: must be below 1, got {DETECT_TRIGGER_RESERVE}")
# Added to the scope's longest function timeout to size the trailing re-read window.
METRICS_LATE_BUFFER_SECONDS = env_int("METRICS_LATE_BUFFER_SECONDS", 300, minimum=0)
METRICS_INITIAL_BACKFILL_MINUTES = env_int("METRICS_INITIAL_BACKFILL_MINUTES", 60, minimum=1, maximum=21600)
# ≤ 201 points per query keeps a full 500 queries in each GetMetricData call.
METRICS_CHUNK_MINUTES = env_int("METRICS_CHUNK_MINUTES", 200, minimum=5, maximum=1440)
METRICS_MAX_CHUNKS_PER_RUN = env_int("METRICS_MAX_CHUNKS_PER_RUN", 12, minimum=1)
# A run starts no new chunk (metrics) or log group (logs) after this long, well inside the
# Celery soft time limit; the cursors say where the next run goes on.
POLL_RUN_SECONDS = env_int("POLL_RUN_SECONDS", 120, minimum=10)
# Duration percentiles requested from AWS (any of p50, p90, p99; empty for none).
METRICS_PERCENTILES = env_list("METRICS_PERCENTILES", "p50,p90,p99")
# Self-imposed share of GetMetricData's 180,000 estimated datapoints per second.
CLOUDWATCH_DPS_BUDGET = env_int("CLOUDWATCH_DPS_BUDGET", 120_000, minimum=1000, maximum=180_000)
# What the product may spend on AWS per day, everything it is billed for (GetMetricData,
# Logs Insights GB scanned, X-Ray, SQS), across all scopes. Metrics polling plans its cadence in
# what the other kinds left over the last 24 hours (ops.pollers.metrics.budget).
# CLOUDWATCH_DAILY_BUDGET_USD is its former name, still read when the new one is not set.
AWS_DAILY_BUDGET_USD = env_float(
    "AWS_DAILY_BUDGET_USD", env_float("CLOUDWATCH_DAILY_BUDGET_USD", 20.0, minimum=0.01), minimum=0.01
)
CLOUDWATCH_DAILY_BUDGET_USD = AWS_DAILY_BUDGET_USD
# Storage retention mirrors CloudWatch's own: 1-minute 15 days, 5-minute 63 days, 1-hour 455 days.
CLOUDWATCH_MINUTE_RETENTION_DAYS = 15
MINUTE_RETENTION_DAYS = env_int("MINUTE_RETENTION_DAYS", 15, minimum=1)
FIVE_MINUTE_RETENTION_DAYS = env_int("FIVE_MINUTE_RETENTION_DAYS", 63, minimum=1)
HOUR_RETENTION_DAYS = env_int("HOUR_RETENTION_DAYS", 455, minimum=1)
# Roll-ups re-read this much minute data each run (minute rows change while late data lands).
ROLLUP_TRAILING_HOURS = env_int("ROLLUP_TRAILING_HOURS", 3, minimum=1, maximum=72)
LOG_LINE_RETENTION_DAYS = env_int("LOG_LINE_RETENTION_DAYS", 15, minimum=1)
API_USAGE_RETENTION_DAYS = env_int("API_USAGE_RETENTION_DAYS", 455, minimum=1)
# Stored DLQ messages found gone (redriven, deleted, expired) are kept this long, then deleted.
DLQ_GONE_RETENTION_DAYS = env_int("DLQ_GONE_RETENTION_DAYS", 14, minimum=1)
# Logs: "insights" (Logs Insights, FilterLogEvents when it fails or truncates) or "filter".
LOGS_SOURCE = env_str("LOGS_SOURCE", "insights")
if LOGS_SOURCE not in {"insights", "filter"}:
    raise ImproperlyConfigured(f"LOGS_SOURCE: expected insights or filter, got {LOGS_SOURCE!r}")
if not set(METRICS_PERCENTILES) <= {"p50", "p90", "p99"}:
    raise ImproperlyConfigured(f"METRICS_PERCENTILES: only p50, p90, p99 are stored, got {METRICS_PERCENTILES!r}")
# Log events arrive 5-10 minutes late: every logs poll re-reads this much.
LOGS_LOOKBACK_SECONDS = env_int("LOGS_LOOKBACK_SECONDS", 600, minimum=60)
LOGS_INITIAL_BACKFILL_MINUTES = env_int("LOGS_INITIAL_BACKFILL_MINUTES", 60, minimum=1)
LOGS_MAX_WINDOW_MINUTES = env_int("LOGS_MAX_WINDOW_MINUTES", 60, minimum=5)
LOGS_INSIGHTS_TIMEOUT_SECONDS = env_float("LOGS_INSIGHTS_TIMEOUT_SECONDS", 30.0, minimum=1.0)

# --- Traces (ops/pollers/traces/): X-Ray bills each trace scanned and retrieved, so a run samples:
# faults and errors first, then the slowest, then cold starts, then any, up to TRACES_PER_CYCLE.
TRACES_POLL_SECONDS = env_int("TRACES_POLL_SECONDS", 60, minimum=10)
TRACES_PER_CYCLE = env_int("TRACES_PER_CYCLE", 100, minimum=1, maximum=10_000)
# Segments land late and traces finish late: every run re-reads this much of the last window.
TRACES_LOOKBACK_SECONDS = env_int("TRACES_LOOKBACK_SECONDS", 300, minimum=0)
TRACES_INITIAL_BACKFILL_MINUTES = env_int("TRACES_INITIAL_BACKFILL_MINUTES", 60, minimum=1, maximum=360)
TRACES_MAX_SUMMARY_PAGES = env_int("TRACES_MAX_SUMMARY_PAGES", 10, minimum=1)
# "Slow" for the second tier of the sample and for the list's default filter link.
TRACES_SLOW_MS = env_int("TRACES_SLOW_MS", 1000, minimum=1)
# A trace with more subsegments is stored cut to this many (and the cut is recorded).
TRACE_MAX_SUBSEGMENTS = env_int("TRACE_MAX_SUBSEGMENTS", 5000, minimum=10)
# The waterfall draws at most this many rows and says so when it stops.
TRACE_WATERFALL_ROWS = env_int("TRACE_WATERFALL_ROWS", 300, minimum=10, maximum=5000)
TRACE_RETENTION_DAYS = env_int("TRACE_RETENTION_DAYS", 7, minimum=1)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}

# --- Alerts (ops/alerts) ---
# The evaluator judges rules on one-minute windows every ALERTS_TICK_SECONDS; the outbox sender
# sweeps for due retries and group waits every NOTIFY_SWEEP_SECONDS.
ALERTS_TICK_SECONDS = env_int("ALERTS_TICK_SECONDS", 60, minimum=5)
NOTIFY_SWEEP_SECONDS = env_int("NOTIFY_SWEEP_SECONDS", 10, minimum=1)
# Links in notifications (function page, DLQ, rollback confirm, acknowledge, mute) start here:
# the address on-call engineers reach this dashboard at.
PUBLIC_URL = env_url("PUBLIC_URL", "http://127.0.0.1:8000")
# Signed acknowledge/mute links expire after this long.
ALERT_LINK_MAX_AGE_SECONDS = env_int("ALERT_LINK_MAX_AGE_SECONDS", 24 * 3600, minimum=60)
# Webhook targets must be https and public; only the test suite lets loopback http through.
ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERT_WEBHOOK_ALLOW_PRIVATE", False)

# --- Email (alert notifications) ---
# EMAIL_HOST empty (the demo): messages go to the console; set it and they go out over SMTP.
# The password is read here and nowhere else; nothing logs it.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# seconds per SMTP operation: a mail server that hangs holds a sender no longer than this
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1, maximum=120)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "lambda-ops@localhost")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL: set one, not both")
