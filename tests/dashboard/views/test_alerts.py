"""The alert rule pages: access (login, operator, CSRF), the form's refusals, create / edit /
delete, the list's state counts, the status page's tick panel, and the 7-day preview."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ops.alerts.evaluate import alerts_evaluate
from ops.models import AlertRule, AlertState, AuditEntry, Channel, FiveMinuteStat
from tests.factories import AccountFactory, AliasFactory, FunctionFactory, function_series, minutes

pytestmark = pytest.mark.django_db


def _user(role: str, username: str):
    """A user in a role without a password: hashing one costs a second or more a test here, and
    these tests sign in with force_login."""
    from django.contrib.auth.models import Group, User

    from ops.services.users import roles_ensure

    roles_ensure()
    user = User.objects.create(username=username)
    user.groups.set([Group.objects.get(name=role)])
    return user


@pytest.fixture
def operator_client(client):
    client.force_login(_user("operator", "olga"))
    return client


@pytest.fixture
def client_in(client):
    client.force_login(_user("viewer", "vera"))
    return client


def _post(**over) -> dict:
    data = {"name": "payments errors", "signal": "error_rate", "scope": "all", "comparison": "gte", "threshold": "5",
            "windows_m": "3", "windows_n": "5", "missing_data": "not_breaching", "severity": "critical",
            "enabled": "on", "group_wait_s": "30", "group_interval_s": "300", "repeat_interval_s": "14400",
            "auto_rollback_minutes": "30", "region": "", "tag_key": "", "tag_value": ""}
    data.update({k: str(v) for k, v in over.items()})
    return data


def test_pages_need_a_login(client):
    rule = AlertRule.objects.first()
    for url in (reverse("alert-rules"), reverse("alert-rule-new"), reverse("alert-rule", args=[rule.pk]),
                reverse("alert-rule-delete", args=[rule.pk])):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp["Location"], url


def test_viewers_read_but_cannot_create_edit_or_delete(client_in):
    rule = AlertRule.objects.get(builtin="error_rate")
    assert client_in.get(reverse("alert-rules")).status_code == 200
    page = client_in.get(reverse("alert-rule", args=[rule.pk]))
    assert page.status_code == 200 and "changing it needs the operator role" in page.content.decode()
    assert client_in.get(reverse("alert-rule-new")).status_code == 403
    assert client_in.post(reverse("alert-rule-new"), _post()).status_code == 403
    assert client_in.post(reverse("alert-rule", args=[rule.pk]), _post(threshold=1)).status_code == 403
    assert client_in.post(reverse("alert-rule-delete", args=[rule.pk])).status_code == 403
    assert AlertRule.objects.get(pk=rule.pk).threshold == 5.0


def test_posts_need_the_csrf_token():
    c = Client(enforce_csrf_checks=True)
    c.force_login(_user("operator", "olga"))
    assert c.post(reverse("alert-rule-new"), _post()).status_code == 403
    assert not AlertRule.objects.filter(name="payments errors").exists()


def test_create_edit_delete(operator_client):
    ch = Channel.objects.create(name="oncall", kind="slack", target="https://hooks.slack.com/x", target_hint="…/x")
    resp = operator_client.post(reverse("alert-rule-new"), _post(scope="tag", tag_key="team", tag_value="payments",
                                                                 channels=ch.pk))
    rule = AlertRule.objects.get(name="payments errors")
    assert resp.status_code == 302 and resp["Location"] == reverse("alert-rule", args=[rule.pk])
    assert (rule.scope, rule.tag_key, rule.tag_value, rule.threshold, list(rule.channels.all())) == (
        "tag", "team", "payments", 5.0, [ch])
    assert rule.created_by.username == "olga"
    resp = operator_client.post(reverse("alert-rule", args=[rule.pk]), _post(threshold=7.5, scope="all",
                                                                             tag_key="team"))
    rule.refresh_from_db()
    assert resp.status_code == 302 and (rule.threshold, rule.scope, rule.tag_key) == (7.5, "all", "")
    confirm = operator_client.get(reverse("alert-rule-delete", args=[rule.pk]))
    assert "Delete the rule “payments errors”?" in confirm.content.decode()
    assert operator_client.post(reverse("alert-rule-delete", args=[rule.pk])).status_code == 302
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    assert list(AuditEntry.objects.filter(target_type="alert_rule").values_list("action", flat=True).order_by("id")) == [
        "alert_rule.create", "alert_rule.update", "alert_rule.delete"]


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"windows_m": 6, "windows_n": 5}, "windows_m", "M (6) cannot exceed N (5)"),
        ({"windows_n": 61, "windows_m": 1}, "windows_n", "N must be between 1 and 60"),
        ({"threshold": 140}, "threshold", "is a percentage: the threshold must be between 0 and 100 (got 140)"),
        ({"signal": "throttles", "threshold": -1}, "threshold", "is never negative"),
        ({"signal": "errors", "comparison": "lt", "threshold": 0}, "threshold", "can never be true"),
        ({"threshold": "lots"}, "threshold", "The threshold must be a number."),
        ({"scope": "tag"}, "tag_key", "A tag scope needs a tag key"),
        ({"scope": "function"}, "function", "Choose the function this rule watches"),
        ({"scope": "account"}, "account", "Choose the account this rule watches"),
        ({"signal": "region_headroom", "scope": "tag", "tag_key": "team", "comparison": "lte", "threshold": 10},
         "scope", "is not about one function"),
        ({"min_volume": 5, "signal": "throttles", "threshold": 1}, "min_volume", "Only the error rate and the cold-start"),
        ({"repeat_interval_s": 5}, "repeat_interval_s", "Must be between 60"),
    ],
)
def test_the_form_refuses_impossible_rules_with_clear_messages(operator_client, over, field, message):
    resp = operator_client.post(reverse("alert-rule-new"), _post(**over))
    assert resp.status_code == 400
    errors = resp.context["form"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert "Not saved." in resp.content.decode()
    assert not AlertRule.objects.filter(name="payments errors").exists()


def test_region_scope_and_rollback_alias_must_belong(operator_client):
    acct = AccountFactory(name="prod", regions=["us-east-1"])
    f = FunctionFactory(account=acct, name="checkout")
    other = AliasFactory(function=FunctionFactory(account=acct, name="billing"), name="live")
    resp = operator_client.post(reverse("alert-rule-new"), _post(scope="region", account=acct.pk, region="eu-west-1"))
    assert "prod is not configured for eu-west-1" in resp.context["form"].errors["region"][0]
    resp = operator_client.post(reverse("alert-rule-new"), _post(scope="function", function=f.pk,
                                                                 auto_rollback_alias=other.pk))
    assert "Alias billing:live is not an alias of checkout" in resp.context["form"].errors["auto_rollback_alias"][0]
    mine = AliasFactory(function=f, name="live")
    resp = operator_client.post(reverse("alert-rule-new"), _post(scope="function", function=f.pk,
                                                                 auto_rollback_alias=mine.pk, auto_rollback_minutes=20))
    rule = AlertRule.objects.get(name="payments errors")
    assert rule.auto_rollback_alias == mine
    html = operator_client.get(reverse("alert-rule", args=[rule.pk])).content.decode()
    assert ("When this rule fires within 20 minutes after a deploy of alias checkout:live, Lambda Ops points live "
            "back at the version it pointed at before that deploy") in html


def test_list_counts_firing_functions_and_status_shows_the_tick(client_in):
    known = timezone.now().replace(second=0, microsecond=0)
    for _ in range(2):
        f = FunctionFactory(metrics_known_until=known)
        minutes(function_series(f), start=known - timedelta(minutes=5), count=5, errors=30, invocations=100)
    alerts_evaluate()
    rule = AlertRule.objects.get(builtin="error_rate")
    assert AlertState.objects.filter(rule=rule, state="firing").count() == 2
    resp = client_in.get(reverse("alert-rules"))
    row = next(r for r in resp.context["rules"] if r.pk == rule.pk)
    assert (row.n_firing, row.n_pending) == (2, 0)
    assert '<span class="badge bad">2</span>' in resp.content.decode()
    status = client_in.get(reverse("status")).content.decode()
    assert 'id="alert-evaluation"' in status and " ms</dd>" in status
    assert "evaluation lag</dt><dd>" in status and f"{known:%H:%M} UTC" in status


def test_preview_counts_on_known_data(client_in):
    now = timezone.now().replace(second=0, microsecond=0)
    known = now - timedelta(minutes=now.minute % 5)
    f = FunctionFactory(metrics_known_until=known, name="checkout")
    start = known - timedelta(days=7)
    series = function_series(f)
    # Six days of 5-minute rows (the minutes rolled up), then a day of minute rows. Two bursts of
    # 20 % errors: 10 minutes an hour in (two 5-minute buckets of 100 errors in 500 calls, i.e.
    # 20 errors a minute), and 4 minutes in the last day.
    minutes(series, start=start, count=6 * 288, model=FiveMinuteStat, step_s=300, invocations=500,
            errors=lambda i: 100 if i in (12, 13) else 0)
    last_day = 6 * 1440
    minutes(series, start=start + timedelta(minutes=last_day), count=1440, invocations=100,
            errors=lambda i: 20 if 100 <= i < 104 else 0)
    rule = AlertRule.objects.get(builtin="error_rate")  # ≥ 5 % with ≥ 5 errors, 3 of 5
    resp = client_in.get(reverse("alert-rule", args=[rule.pk]) + f"?function={f.pk}")
    p = resp.context["preview"]
    # A burst fires at its 3rd minute and resolves once fewer than 3 of the last 5 breach: 10
    # and 4 firing minutes.
    assert (p.fired, p.firing_minutes, p.minutes, p.from_five_minute) == (2, 14, 7 * 1440, 6 * 1440)
    m = lambda k: timedelta(minutes=k)  # noqa: E731
    assert [(a - start, b - start) for a, b in p.spans] == [(m(63), m(73)), (m(last_day + 103), m(last_day + 107))]
    html = resp.content.decode()
    assert "Would have fired 2 times, firing 0.1 % of the time" in html
    assert "8,640 of them from 5-minute rows" in html
    chart = resp.context["charts"]["charts"][0]["figure"]
    assert chart["layout"]["yaxis"]["title"]["text"] == "Error rate (%) (% of invocations)"
    assert chart["layout"]["xaxis"]["title"]["text"].startswith("time (UTC)")
    assert len(chart["layout"]["shapes"]) == 2 and chart["data"][1]["y"] == [5.0, 5.0]


def test_preview_of_an_unsaved_form(operator_client):
    known = timezone.now().replace(second=0, microsecond=0)
    f = FunctionFactory(metrics_known_until=known, name="checkout", tags={"team": "payments"})
    minutes(function_series(f), start=known - timedelta(hours=2), count=120, invocations=100, throttles=lambda i: 3 if i % 30 == 0 else 0)
    resp = operator_client.post(reverse("alert-rule-preview"), _post(signal="throttles", threshold=1, windows_m=1,
                                                                     windows_n=1, scope="tag", tag_key="team"))
    assert resp.status_code == 200
    p = resp.context["preview"]
    assert (p.fired, p.firing_minutes) == (4, 4)
    assert "Would have fired 4 times" in resp.content.decode()
    bad = operator_client.post(reverse("alert-rule-preview"), _post(windows_m=9))
    assert "Fix the form first: M (9) cannot exceed N (5)" in bad.content.decode()
    assert not AlertRule.objects.filter(name="payments errors").exists()


def test_preview_of_dlq_new_messages_replays_the_depth_metric(client_in):
    from ops.models import FunctionQueue, QueueStat
    from tests.factories import QueueFactory

    known = timezone.now().replace(second=0, microsecond=0)
    f = FunctionFactory(metrics_known_until=known, name="orders")
    q = QueueFactory(account=f.account)
    FunctionQueue.objects.create(function=f, queue=q, role="lambda_dlq")
    t0 = known - timedelta(hours=1)
    # 2 messages for half an hour, then 3 more arrive one minute and 1 more twenty minutes later.
    depth = [2] * 30 + [5] * 20 + [6] * 10
    QueueStat.objects.bulk_create([QueueStat(queue=q, ts=t0 + timedelta(minutes=i), visible_max=d)
                                   for i, d in enumerate(depth)])
    rule = AlertRule.objects.get(builtin="dlq_growth")  # > 0 new messages, 1 of 5
    p = client_in.get(reverse("alert-rule", args=[rule.pk])).context["preview"]
    # Each rise fires (the first sample, 2 messages, counts as growth from nothing: 3 rises),
    # and each stays firing for its 5 windows.
    assert (p.fired, p.firing_minutes) == (3, 15)
