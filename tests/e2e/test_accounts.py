"""An admin adds an account in the browser: a wrong external id is refused with AWS's error code
and nothing is saved; the right one saves it and shows its permission table."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_page(page, live_server, transactional_db, aws):
    from ops.models import Role
    from ops.services.users import user_create
    from sandbox.testing import seed_estate

    seed_estate(aws, small=True)
    user_create(username="ada", password=PASSWORD, role=Role.OPERATOR, admin=True)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")
    return page


def _fill(page, external_id: str) -> None:
    from sandbox.testing import STAGING_ACCOUNT_ID, STAGING_ROLE_ARN

    page.fill("input[name=name]", "staging")
    page.fill("input[name=account_id]", STAGING_ACCOUNT_ID)
    page.fill("input[name=role_arn]", STAGING_ROLE_ARN)
    page.fill("input[name=external_id]", external_id)
    page.fill("input[name=regions]", "us-east-1")


def test_adding_an_account_with_a_wrong_external_id_is_refused_with_the_aws_error(admin_page, live_server, artifacts):
    from ops.models import Account
    from sandbox.testing import EXTERNAL_ID

    page = admin_page
    page.click("nav a:has-text('Accounts')")
    expect(page.locator("p.empty")).to_contain_text("No AWS accounts are configured yet")
    page.click("text=Add an account")
    _fill(page, "not-the-external-id")
    page.click("#save")
    problems = page.locator("#check-problems")
    expect(problems).to_contain_text("Not saved.")
    expect(problems).to_contain_text("AccessDenied: the role cannot be assumed (sts:AssumeRole)")
    # What was typed is still there to correct; nothing was saved.
    expect(page.locator("input[name=account_id]")).to_have_value("210987654321")
    assert not Account.objects.exists()
    page.screenshot(path=str(artifacts / "account-refused.png"), full_page=True)

    page.fill("input[name=external_id]", EXTERNAL_ID)
    page.click("#save")
    expect(page.locator(".messages")).to_contain_text("staging added: every permission checked is granted")
    expect(page.locator("table.permission-table tr[data-action='lambda:ListFunctions']")).to_have_attribute(
        "data-state", "granted")
    assert Account.objects.get().external_id == EXTERNAL_ID
