"""Browser tests: Playwright drives Debian's Chromium (no browser download) against live_server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone

# Playwright's sync API runs an event loop in this thread; the ORM calls the fixtures make
# around it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
PASSWORD = "correct-horse-42"


def pytest_collection_modifyitems(items):
    e2e = [item for item in items if "tests/e2e/" in str(item.fspath).replace(os.sep, "/")]
    for item in e2e:
        item.add_marker(pytest.mark.e2e)
    # Never skipped: without the browser these tests fail, and say how to get it.
    if e2e and not os.path.exists(CHROMIUM):
        raise pytest.UsageError(f"{CHROMIUM} is missing: run `make browser` (or deselect with -m 'not e2e')")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "timezone_id": "UTC"}


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def e2e_estate(transactional_db):
    from tests.estate import _build
    from tests.factories import make_user

    estate = _build(timezone.now())
    make_user("operator", username="alice")
    return estate


@pytest.fixture
def logged_in(page, live_server, e2e_estate):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")
    return page
