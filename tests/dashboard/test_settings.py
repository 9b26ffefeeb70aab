import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import env

ROOT = Path(__file__).resolve().parents[2]


def _boot(**overrides) -> subprocess.CompletedProcess:
    environment = {**os.environ, **overrides}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://root@localhost/x", "DATABASE_URL: scheme 'mysql' is not supported"),
        ("postgres://root@127.0.0.1:5432/", "DATABASE_URL: no database name"),
        ("not a url", "DATABASE_URL: scheme '(none)' is not supported"),
    ],
)
def test_bad_database_url_fails_fast_naming_the_variable(value, message):
    result = _boot(DATABASE_URL=value)
    assert result.returncode != 0
    assert message in result.stderr


def test_bad_numbers_and_booleans_name_the_variable(monkeypatch):
    monkeypatch.setenv("METRICS_POLL_SECONDS", "soon")
    with pytest.raises(ImproperlyConfigured, match="METRICS_POLL_SECONDS: expected a whole number, got 'soon'"):
        env.env_int("METRICS_POLL_SECONDS", 60)
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG: expected true/false"):
        env.env_bool("DEBUG", False)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "0")
    with pytest.raises(ImproperlyConfigured, match="AWS_MAX_ATTEMPTS: must be at least 1"):
        env.env_int("AWS_MAX_ATTEMPTS", 3, minimum=1)


def test_redis_and_webhook_urls_are_checked_without_echoing_secrets(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        env.env_redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "ftp://hooks.example/T000/B000/secret")
    with pytest.raises(ImproperlyConfigured) as err:
        env.env_url("SLACK_WEBHOOK_URL")
    assert "secret" not in str(err.value)


def test_database_url_parses_to_postgres(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app:pw@db.internal:6543/ops")
    config = env.env_database("DATABASE_URL", "")
    assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        6543,
        "ops",
        "app",
    )


def test_secret_key_is_required_when_debug_is_off():
    missing = _boot(SECRET_KEY="", DEBUG="false")
    assert missing.returncode != 0
    assert "SECRET_KEY: required when DEBUG is off" in missing.stderr
    debugging = _boot(SECRET_KEY="", DEBUG="true")
    assert debugging.returncode == 0, debugging.stderr
    given = _boot(SECRET_KEY="a-long-random-string-for-this-test", DEBUG="false")
    assert given.returncode == 0, given.stderr


def test_a_stale_threshold_shorter_than_three_heartbeats_is_refused():
    short = _boot(JOB_HEARTBEAT_SECONDS="10", JOB_STALE_SECONDS="25")
    assert short.returncode != 0
    assert "JOB_STALE_SECONDS (25) must be at least three heartbeats (3 × JOB_HEARTBEAT_SECONDS = 30)" in short.stderr
    assert _boot(JOB_HEARTBEAT_SECONDS="10", JOB_STALE_SECONDS="30").returncode == 0


def _check_deploy(**overrides) -> subprocess.CompletedProcess:
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "k7Vq2xN9pL4mR8sT1wY6zB3cF5hJ0dG-aEuIoPnMbVcXlKjHgQwErTy_UiOp",
        "ALLOWED_HOSTS": "ops.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://ops.example.com",
        "HTTPS": "true",
        "TRUST_X_FORWARDED_PROTO": "true",
        "HSTS_PRELOAD": "true",
    }
    environment = {**os.environ, **production, **overrides}
    # Set by the browser tests' conftest for Playwright; no deployment has it (check --deploy warns).
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_what_plain_http_and_no_preload_leave_out():
    # HSTS preload is the owner's choice for their domain (hard to undo), so it is opt-in and
    # the check says so; plain HTTP (the demo's loopback setup) misses every HTTPS setting.
    no_preload = _check_deploy(HSTS_PRELOAD="false")
    assert no_preload.returncode != 0
    assert re.findall(r"\(security\.(W\d+)\)", no_preload.stderr) == ["W021"]
    plain = _check_deploy(HTTPS="false", TRUST_X_FORWARDED_PROTO="false")
    assert sorted(re.findall(r"\(security\.(W\d+)\)", plain.stderr)) == ["W004", "W008", "W012", "W016"]


def test_https_turns_on_secure_cookies_redirect_and_hsts():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER)"
    )
    def settings_with(**overrides):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **overrides}, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert settings_with(HTTPS="false") == "False False False 0 True False None"
    assert settings_with(HTTPS="true") == "True True True 31536000 True False None"
    assert settings_with(HTTPS="true", TRUST_X_FORWARDED_PROTO="true", HSTS_SECONDS="600") == (
        "True True True 600 True False ('HTTP_X_FORWARDED_PROTO', 'https')"
    )
    bad = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HTTPS": "sometimes"}, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "HTTPS: expected true/false" in bad.stderr


def test_the_test_clients_host_is_served_only_under_the_tests():
    shown = "from django.conf import settings; print(','.join(settings.ALLOWED_HOSTS))"
    environment = {k: v for k, v in os.environ.items() if k != "ALLOWED_HOSTS"}
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {shown}"],
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "127.0.0.1,localhost", result.stderr
    assert os.environ["ALLOWED_HOSTS"] == "127.0.0.1,localhost,testserver"  # tests/environment.py
