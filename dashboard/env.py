"""Typed environment helpers that fail fast and name the variable that is wrong.

Every setting comes from here, so a bad value stops the process at start-up with a
message like ``DATABASE_URL: scheme 'mysql' is not supported (use postgres://)``
instead of a stack trace from deep inside a driver.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, default: str | None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name}: required environment variable is not set")
        return default
    return value.strip()


def env_str(name: str, default: str | None = None) -> str:
    return _raw(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name, "1" if default else "0").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true/false, got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name, str(default))
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}: must be at most {maximum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name, str(default))
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in _raw(name, default).split(",") if part.strip()]


def env_database(name: str, default: str) -> dict:
    """Parse a postgres:// URL into Django's DATABASES entry (Postgres only, by design)."""
    import environ  # django-environ does the URL parsing; we only add the checks

    value = _raw(name, default)
    parsed = urlparse(value)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name}: scheme {parsed.scheme or '(none)'!r} is not supported; use postgres://user@host:port/dbname"
        )
    if not parsed.path.strip("/"):
        raise ImproperlyConfigured(f"{name}: no database name in {_redact(value)!r}")
    try:
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(f"{name}: bad port in {_redact(value)!r}") from None
    config = environ.Env.db_url_config(value)
    config["ENGINE"] = "django.db.backends.postgresql"
    return config


def env_redis_url(name: str, default: str) -> str:
    value = _raw(name, default)
    parsed = urlparse(value)
    if parsed.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name}: expected redis://host:port/db, got {_redact(value)!r}")
    return value


def env_url(name: str, default: str = "") -> str:
    value = _raw(name, default)
    if value and urlparse(value).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"{name}: expected an http(s) URL")
    return value


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url
