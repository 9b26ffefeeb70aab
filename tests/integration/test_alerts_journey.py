"""The alert journey against the sandbox over HTTP, end to end: the deploy-regression scenario
through the real pollers (inventory, metrics, logs, changes), the evaluator, the incident
processor and the outbox, to a loopback Slack receiver and a loopback SMTP server.

One estate, in the order an on-call engineer lives it: a calm estate notifies nobody; checkout-api's bad deploy
opens one incident and one firing message (two evaluators ticking at once), with the deploy,
the versions side by side, the top error and a rollback link that works; the engineer
acknowledges from the signed link; the scenario returns to steady and one resolve message
follows; then orders-api's bad deploy trips a rule that rolls its alias back, once.

Time: steady history runs up to two minutes before the deploy; each later phase generates
simulated minutes after that and moves the pollers' clocks (``now`` in the metrics and logs
pollers) and the ``now`` given to the evaluator, the incident processor and the sender to the
end of them, so no phase waits a wall-clock minute. The changes poller and CloudTrail run on
real time (the deploy is dated by CloudTrail at the moment it happened).

One test walks the whole journey (each phase a helper with its own assertions): the phases
build on each other, and seeding the estate and reading its history once is most of the cost.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.test import Client

from ops.models import (
    Account,
    AlertRule,
    Alias,
    Channel,
    ChannelKind,
    ErrorGroup,
    Function,
    Incident,
    IncidentEventKind,
    IncidentStatus,
    Job,
    JobKind,
    JobStatus,
    LogLine,
)
from ops.pollers import base as poll_base
from ops.pollers.base import poll_run
from ops.pollers.changes import changes_poll
from ops.pollers.inventory import inventory_poll
from ops.pollers.logs import poll as logs_poll_module
from ops.pollers.metrics import poll as metrics_poll_module
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID, FunctionSpec
from tests.factories import make_user
from tests.receivers import HttpRecorder, SmtpRecorder, http_receiver, smtp_receiver  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

REGION = "us-east-1"
FN = "checkout-api"  # the deploy regression that notifies
AUTO = "orders-api"  # the one whose rule rolls it back
HISTORY_MINUTES = 40
BAD_MINUTES = 5  # a default-pack M-of-N rule has fired well within this
CALM_MINUTES = 6
EMAIL_TO = "oncall@example.com"


def _specs() -> list[FunctionSpec]:
    # Healthy functions only: anything the default pack fires on besides the scenario would
    # be a second incident, and the point is that there is exactly one. Busy enough that at the
    # sandbox's quietest hour (30 % of the peak rate) the bad build's ~35 % failures are still
    # twice the error-rate rule's volume floor of 5 errors a minute.
    return [
        # Node.js: its runtime writes the request id on the error line itself (Python's text-format
        # "[ERROR] KeyError" line carries none, and the logs poller does not take it from START).
        FunctionSpec(FN, PROD_ACCOUNT_ID, REGION, "nodejs20.x", 1024, 15, "arm64", "api", rate=100,
                     error_rate=0.003, duration_ms=140, cold_rate=0.01, versions=8,
                     aliases={"live": {"version": "8"}}, traffic_alias="live", team="checkout",
                     service="checkout"),
        FunctionSpec(AUTO, PROD_ACCOUNT_ID, REGION, "python3.12", 512, 10, "arm64", "api", rate=100,
                     error_rate=0.003, duration_ms=60, cold_rate=0.01, versions=3,
                     aliases={"live": {"version": "3"}}, traffic_alias="live", team="orders", service="orders"),
    ]


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


@dataclass
class World:
    server: object
    account: Account
    slack: HttpRecorder
    smtp: SmtpRecorder
    operator: Client
    rule: AlertRule  # the default pack's error-rate rule, with the Slack and email channels
    clock: datetime  # the simulated "now" the last phase ended at
    enqueued_jobs: list[int] = field(default_factory=list)
    phases: dict = field(default_factory=dict)

    def slack_for(self, function: str, kind: str | None = None) -> list[dict]:
        out = []
        for r in self.slack.requests:
            body = r.json
            text = _text(body)
            if function in text and (kind is None or _kind(body) == kind):
                out.append(body)
        return out


def _text(obj) -> str:
    """Every string in a Slack Block Kit body, joined: what a reader of the message sees."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return "\n".join(_text(v) for v in obj.values())
    if isinstance(obj, list):
        return "\n".join(_text(v) for v in obj)
    return ""


def _urls(obj) -> list[str]:
    """Every link of a Slack body: URL buttons and the mrkdwn <url|label> links."""
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "url" and isinstance(v, str):
                found.append(v)
            else:
                found.extend(_urls(v))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(_urls(v))
    elif isinstance(obj, str):
        found.extend(m.group(1) for m in re.finditer(r"<(https?://[^|>]+)(?:\|[^>]*)?>", obj))
    return found


def _kind(body: dict) -> str:
    """firing or resolved, from the message's fallback text ("FIRING: …" / "RESOLVED: …")."""
    return "resolved" if "RESOLVED" in body.get("text", "") else "firing"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _cycle(account: Account, clock: datetime) -> None:
    """One beat cycle as the workers run it: inventory, metrics and logs (their clocks at
    ``clock``: the end of the traffic generated), then CloudTrail's changes on real time. The
    poll status rows are stamped at ``clock`` too: the evaluator's "a poller failing" rule
    compares them with the ``now`` it is given, the simulated one."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(metrics_poll_module, "now", lambda: clock)
        mp.setattr(logs_poll_module, "now", lambda: clock)
        mp.setattr(poll_base, "timezone", SimpleNamespace(now=lambda: clock))
        for source, work in (("inventory", inventory_poll), ("metrics", metrics_poll_module.metrics_poll),
                             ("logs", logs_poll_module.logs_poll), ("changes", changes_poll)):
            outcome = poll_run(source=source, account=account, region=REGION, work=work)
            assert outcome.ok, (source, outcome)
    finally:
        mp.undo()


def _tick(now: datetime, *, send_at: datetime | None = None) -> None:
    """What the alerts worker does in one tick (ops.tasks.alerts.alerts_tick), then a sender pass."""
    from ops.alerts.evaluate import alerts_evaluate
    from ops.alerts.incidents import flips_process
    from ops.alerts.outbox import notifications_deliver

    alerts_evaluate(now=now)
    flips_process(now=now)
    notifications_deliver(now=send_at or now)


def _parallel_ticks(now: datetime, send_at: datetime, workers: int = 2) -> list[BaseException]:
    """``workers`` evaluators at once, each a thread with its own database connection, started
    together at a barrier: each evaluates, processes the flips and sends what is due."""
    from django.db import connection

    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            _tick(now, send_at=send_at)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.fixture
def world(aws, sandbox_server, settings, monkeypatch, http_receiver, smtp_receiver) -> World:
    """The estate seeded, its steady history polled, the default pack's error-rate rule sending
    to the loopback Slack receiver and to the SMTP server; an operator logged in."""
    from ops.alerts.pack import rule_pack_install
    from ops.tasks import actions as actions_tasks
    from ops.tasks import alerts as alerts_tasks

    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    settings.METRICS_INITIAL_BACKFILL_MINUTES = HISTORY_MINUTES + 5
    settings.LOGS_INITIAL_BACKFILL_MINUTES = HISTORY_MINUTES + 5
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    # No Celery worker here: the tick and the sender are called on the test's clock, and the
    # rollback job is run by calling the runner (as the rollback tests do).
    enqueued: list[int] = []
    monkeypatch.setattr(actions_tasks.job_run, "delay", lambda job_id: enqueued.append(job_id))
    for task in (alerts_tasks.alerts_tick, alerts_tasks.notifications_send):
        monkeypatch.setattr(task, "delay", lambda *a, **k: None)
        monkeypatch.setattr(task, "apply_async", lambda *a, **k: None)

    sandbox.seed_estate(sandbox_server, specs=_specs())
    sandbox.cloudtrail_delay(sandbox_server, 0)
    history_end = _minute(datetime.now(timezone.utc)) - timedelta(minutes=2)
    sandbox.generate(sandbox_server, start=history_end - timedelta(minutes=HISTORY_MINUTES),
                     minutes=HISTORY_MINUTES, scenario="steady", seed=11)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    rule_pack_install()  # a flush by an earlier transactional test removed the migration's rows
    rule = AlertRule.objects.get(signal="error_rate", builtin__gt="")
    slack_ch = Channel.objects.create(name="oncall-slack", kind=ChannelKind.SLACK,
                                      target=http_receiver.url("/services/T0/B0/x"))
    mail_ch = Channel.objects.create(name="oncall-mail", kind=ChannelKind.EMAIL, target=EMAIL_TO)
    rule.channels.add(slack_ch, mail_ch)
    operator = Client(enforce_csrf_checks=True)
    operator.force_login(make_user("operator", username="olga"))
    clock = history_end + timedelta(seconds=20)
    _cycle(account, clock)
    yield World(server=sandbox_server, account=account, slack=http_receiver, smtp=smtp_receiver, operator=operator,
                rule=rule, clock=clock, enqueued_jobs=enqueued)
    sandbox.set_scenario(sandbox_server, "steady")


def test_the_alert_journey(world):
    _calm_estate_notifies_nobody(world)
    _deploy_regression_fires(world)
    _one_incident_and_one_firing_message(world)
    _acknowledge_from_the_signed_link(world)
    _back_to_steady(world)
    _one_resolve_message(world)
    _auto_rollback(world)
    _auto_rollback_once_on_the_timeline(world)


def _calm_estate_notifies_nobody(world: World) -> None:
    _tick(world.clock, send_at=world.clock + timedelta(minutes=5))
    assert (Incident.objects.count(), len(world.slack.requests), len(world.smtp.messages)) == (0, 0, 0), (
        list(Incident.objects.values_list("title", flat=True)))


def _deploy_regression_fires(world: World) -> None:
    """checkout-api's live alias moves to a bad build; BAD_MINUTES of its traffic are polled;
    two evaluators tick at once, then again past the group wait."""
    sc = sandbox.set_scenario(world.server, "deploy-regression", function=FN, account=PROD_ACCOUNT_ID, region=REGION)
    start = _minute(datetime.now(timezone.utc))
    sandbox.generate(world.server, start=start, minutes=BAD_MINUTES, seed=11)
    clock = start + timedelta(minutes=BAD_MINUTES, seconds=20)
    _cycle(world.account, clock)
    wait = timedelta(seconds=world.rule.group_wait_s)
    errors = _parallel_ticks(clock, send_at=clock)
    world.phases["during_group_wait"] = len(world.slack.requests)
    errors += _parallel_ticks(clock, send_at=clock + wait + timedelta(seconds=1))
    _tick(clock, send_at=clock + wait + timedelta(seconds=2))  # a third pass finds nothing left to do
    world.clock = clock + wait + timedelta(seconds=2)
    world.phases["fired"] = {"scenario": sc, "start": start, "errors": errors}


def _one_incident_and_one_firing_message(fired: World) -> None:
    phase = fired.phases["fired"]
    assert phase["errors"] == []
    assert fired.phases["during_group_wait"] == 0  # the group wait holds the first round
    fn = Function.objects.get(name=FN)
    incidents = list(Incident.objects.all())
    assert [(i.function_id, i.status) for i in incidents] == [(fn.pk, IncidentStatus.OPEN)], [
        (i.title, i.scope_key, i.status) for i in incidents]
    incident = incidents[0]
    assert abs((incident.began_at - phase["start"]).total_seconds()) <= 120

    messages = fired.slack_for(FN)
    assert len(messages) == len(fired.slack.requests) == 1, [_text(m.json)[:200] for m in fired.slack.requests]
    body = messages[0]
    text = _text(body)
    new, old = phase["scenario"]["version"], phase["scenario"]["previous_version"]
    # the deploy: its version, its actor, how many minutes before the errors began
    deploy = re.search(rf"(\d+) min before: live v{old} → v{new} by role/CodeDeployServiceRole", text)
    assert deploy and int(deploy.group(1)) <= 2, text
    # the new version's error rate against the one it replaced
    rates = [line for line in text.splitlines() if f"v{new}" in line and f"v{old}" in line and "%" in line]
    assert rates, text
    # the top error with a sample line and its request id, as the incident's diagnosis has it
    line = {d["key"]: d for d in incident.diagnosis}.get("error")
    assert line and line.get("request_id"), incident.diagnosis
    group = ErrorGroup.objects.get(function=fn, error_type=line["text"].split("since it began: ")[1].split(":")[0])
    assert group.error_type in text and line["request_id"] in text, text
    assert LogLine.objects.filter(function=fn, request_id=line["request_id"]).exists()

    # the rollback link works: the confirm page names the alias and the version it goes back to
    alias = Alias.objects.get(function=fn, name="live")
    rollback = [u for u in _urls(body) if u.rstrip("/").endswith(f"/aliases/{alias.pk}/rollback")]
    assert rollback, _urls(body)
    page = fired.operator.get(_path(rollback[0]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "live" in html and f"will send all traffic to <strong>v{old}</strong>" in html

    # the email: one, to the channel's recipient, text and HTML, saying the same
    assert len(fired.smtp.messages) == 1
    mail = fired.smtp.messages[0]
    assert EMAIL_TO in mail["To"] and FN in mail["Subject"]
    plain = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"v{new}" in plain and "CodeDeployServiceRole" in plain
    assert mail.get_body(preferencelist=("html",)) is not None


def _acknowledge_from_the_signed_link(fired: World) -> None:
    incident = Incident.objects.get()
    ack = [u for u in _urls(fired.slack_for(FN)[0]) if "/act/" in u]
    assert ack, _urls(fired.slack_for(FN)[0])
    confirm = fired.operator.get(_path(ack[0]))
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert FN in html and "<form" in html and 'method="post"' in html.lower()
    incident.refresh_from_db()
    assert incident.acknowledged_at is None  # a GET only asks
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    done = fired.operator.post(_path(ack[0]), {"csrfmiddlewaretoken": token})
    assert done.status_code in (200, 302, 303)
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None and incident.acknowledged_by_name == "olga"
    events = list(incident.events.filter(kind=IncidentEventKind.ACKNOWLEDGED))
    assert [e.actor_name for e in events] == ["olga"]
    page = fired.operator.get(f"/incidents/{incident.pk}/").content.decode()
    assert "olga" in page and "cknowledged" in page


def _back_to_steady(world: World) -> None:
    """The scenario back to steady (the bad build stays live, but its calls no longer fail):
    CALM_MINUTES of traffic polled; two evaluators at once, then senders past the group interval."""
    start = world.phases["fired"]["start"] + timedelta(minutes=BAD_MINUTES)
    sandbox.set_scenario(world.server, "steady")
    sandbox.generate(world.server, start=start, minutes=CALM_MINUTES, seed=11)
    clock = start + timedelta(minutes=CALM_MINUTES, seconds=20)
    _cycle(world.account, clock)
    interval = timedelta(seconds=world.rule.group_interval_s)
    errors = _parallel_ticks(clock, send_at=clock)
    _tick(clock, send_at=clock + interval + timedelta(seconds=1))
    _tick(clock, send_at=clock + interval + timedelta(seconds=2))
    world.clock = clock
    world.phases["resolved"] = {"start": start, "errors": errors}


def _one_resolve_message(resolved: World) -> None:
    assert resolved.phases["resolved"]["errors"] == []
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.RESOLVED and incident.resolved_at is not None
    assert incident.events.filter(kind=IncidentEventKind.RESOLVED).count() == 1
    messages = resolved.slack_for(FN)
    assert len(messages) == 2, [_text(m)[:200] for m in messages]
    assert _kind(messages[0]) == "firing" and _kind(messages[1]) == "resolved", [_text(m)[:200] for m in messages]
    assert len(resolved.smtp.messages) == 2
    assert "resolved" in resolved.smtp.messages[1]["Subject"].lower()
    notified = incident.events.filter(kind=IncidentEventKind.NOTIFIED)
    assert notified.count() == 4  # firing and resolved, Slack and email each


def _auto_rollback(world: World) -> None:
    """orders-api's own rule rolls its live alias back when it fires within 30 minutes of a
    deploy; its bad deploy, BAD_MINUTES of traffic, two evaluators at once, twice."""
    from ops.actions.runner import job_run

    fn = Function.objects.get(name=AUTO)
    alias = Alias.objects.get(function=fn, name="live")
    rule = AlertRule.objects.create(
        name="orders-api errors: roll back", signal="error_rate", scope="function", function=fn,
        comparison="gt", threshold=10.0, windows_m=2, windows_n=3, severity="critical",
        auto_rollback_alias=alias, auto_rollback_minutes=30, group_wait_s=0,
    )
    sc = sandbox.set_scenario(world.server, "deploy-regression", function=AUTO, account=PROD_ACCOUNT_ID, region=REGION)
    start = world.phases["resolved"]["start"] + timedelta(minutes=CALM_MINUTES)
    sandbox.generate(world.server, start=start, minutes=BAD_MINUTES, seed=11)
    clock = start + timedelta(minutes=BAD_MINUTES, seconds=20)
    _cycle(world.account, clock)
    errors = _parallel_ticks(clock, send_at=clock + timedelta(seconds=31))
    errors += _parallel_ticks(clock + timedelta(seconds=30), send_at=clock + timedelta(seconds=61))
    enqueued = list(world.enqueued_jobs)
    outcomes = {job_id: job_run(job_id=job_id) for job_id in set(enqueued)}
    world.phases["rolled_back"] = {"scenario": sc, "rule": rule, "alias": alias, "errors": errors,
                                   "enqueued": enqueued, "outcomes": outcomes}


def _auto_rollback_once_on_the_timeline(rolled_back: World) -> None:
    phase = rolled_back.phases["rolled_back"]
    assert phase["errors"] == []
    alias, sc = phase["alias"], phase["scenario"]
    jobs = list(Job.objects.filter(resource_arn=alias.arn))
    assert len(jobs) == 1, jobs
    job = jobs[0]
    assert job.kind == JobKind.ALIAS_ROLLBACK
    assert job.parameters.get("to_version") == sc["previous_version"], job.parameters
    assert "auto-rollback" in job.actor_name and phase["rule"].name in job.actor_name
    assert phase["outcomes"] == {job.pk: JobStatus.SUCCEEDED}
    incident = Incident.objects.get(function__name=AUTO)
    events = list(incident.events.filter(kind=IncidentEventKind.AUTO_ROLLBACK))
    assert [e.job_id for e in events] == [job.pk]
    page = rolled_back.operator.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"/jobs/{job.pk}/" in page
    # the alias is back where it was, in AWS
    from ops.aws.client import Scope, client

    live = client("lambda", Scope(PROD_ACCOUNT_ID, REGION)).get_alias(FunctionName=AUTO, Name="live")
    assert live["FunctionVersion"] == sc["previous_version"]
    # the notification says so (not only the "Roll back live" button every message carries)
    firing = [m for m in rolled_back.slack_for(AUTO) if _kind(m) == "firing"]
    assert len(firing) == 1, [_text(m)[:300] for m in firing]
    assert f"job #{job.pk}" in _text(firing[0]) or re.search(r"(?i)automatic rollback|auto-rollback", _text(firing[0])), (
        _text(firing[0]))
