"""The status page lists quarantined input per scope with counts by reason."""

import pytest
from django.urls import reverse
from django.utils import timezone

from ops.models import Quarantine
from ops.selectors.quarantine import quarantine_by_scope
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _q(account, source, reason, count, raw="<script>x</script>"):
    now = timezone.now()
    return Quarantine.objects.create(
        source=source, account=account, region="us-east-1", reason=reason, count=count, first_seen=now, last_seen=now,
        samples=[{"at": now.isoformat(), "key": "k", "where": "/aws/lambda/orders 2026/11/23/[$LATEST]ab", "detail": "Memory Size 99999999999 outside 128…10240", "raw": raw}],
    )


def test_the_selector_groups_reasons_per_scope(django_assert_num_queries):
    prod = AccountFactory(name="prod")
    _q(prod, "logs", "out_of_bounds", 3)
    _q(prod, "logs", "too_long", 1)
    _q(prod, "inventory", "bad_name", 2)
    _q(AccountFactory(name="staging"), "logs", "sanitised", 0)  # nothing set aside: not listed
    with django_assert_num_queries(1):
        scopes = quarantine_by_scope()
    assert [(s.account, s.source, s.total, [(r.reason, r.count) for r in s.reasons]) for s in scopes] == [
        ("prod", "inventory", 2, [("bad_name", 2)]),
        ("prod", "logs", 4, [("out_of_bounds", 3), ("too_long", 1)]),
    ]


def test_the_status_page_shows_quarantine_counts_by_reason(client_in):
    prod = AccountFactory(name="prod")
    _q(prod, "logs", "out_of_bounds", 1234)
    _q(prod, "inventory", "bad_name", 2)
    body = client_in.get(reverse("status")).content.decode()
    assert 'id="quarantine"' in body
    assert "number outside physical bounds ×1,234" in body and "name AWS would reject ×2" in body
    assert "Memory Size 99999999999 outside" in body
    assert "<script>x</script>" not in body and "&lt;script&gt;" in body  # samples are escaped


def test_no_quarantine_no_section(client_in):
    assert 'id="quarantine"' not in client_in.get(reverse("status")).content.decode()
