"""factory_boy factories for every model the tests write (inventory, telemetry, polls, queues), and
helpers that write whole runs of minutes: the suite's one factories module."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from ops.models import (
    Account,
    Alias,
    AliasChange,
    Change,
    DlqMessage,
    DlqSnapshot,
    ErrorGroup,
    ErrorMinute,
    FiveMinuteStat,
    Function,
    FunctionVersion,
    HourStat,
    LogLine,
    MinuteStat,
    PollStatus,
    Queue,
    QueueStat,
    RegionStat,
    Role,
    Series,
)
from ops.services.users import user_create


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("account_id",)

    name = factory.Sequence(lambda n: f"acct{n}")
    account_id = factory.Sequence(lambda n: f"{100000000000 + n}")
    regions = factory.LazyFunction(lambda: ["us-east-1"])


class FunctionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Function

    account = factory.SubFactory(AccountFactory)
    region = "us-east-1"
    name = factory.Sequence(lambda n: f"fn-{n:04d}")
    arn = factory.LazyAttribute(lambda o: f"arn:aws:lambda:{o.region}:{o.account.account_id}:function:{o.name}")
    runtime = "python3.12"
    memory_mb = 512
    timeout_s = 30
    architecture = "x86_64"
    tags = factory.LazyFunction(lambda: {"team": "core"})
    last_seen = factory.LazyFunction(timezone.now)


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FunctionVersion

    function = factory.SubFactory(FunctionFactory)
    version = factory.Sequence(lambda n: str(n + 1))
    last_modified = factory.LazyFunction(timezone.now)


class AliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alias

    function = factory.SubFactory(FunctionFactory)
    name = "live"
    arn = factory.LazyAttribute(lambda o: f"{o.function.arn}:{o.name}")
    version = "1"
    last_seen = factory.LazyFunction(timezone.now)


def make_user(role: str = Role.VIEWER, username: str | None = None) -> User:
    return user_create(username=username or f"{role}-user", password="correct-horse-42", role=role)


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series
        django_get_or_create = ("function", "kind", "qualifier")

    function = factory.SubFactory(FunctionFactory)
    kind = "function"
    qualifier = ""


class MinuteStatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MinuteStat

    series = factory.SubFactory(SeriesFactory)
    ts = factory.LazyFunction(lambda: timezone.now().replace(second=0, microsecond=0))
    invocations = 100
    errors = 0
    duration_avg = 50.0
    duration_p50 = 40.0
    duration_p90 = 80.0
    duration_p99 = 120.0
    duration_max = 150.0
    concurrency_max = 3.0


class FiveMinuteStatFactory(MinuteStatFactory):
    class Meta:
        model = FiveMinuteStat


class HourStatFactory(MinuteStatFactory):
    class Meta:
        model = HourStat


class AliasChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AliasChange

    alias = factory.SubFactory(AliasFactory)
    function = factory.SelfAttribute("alias.function")
    at = factory.LazyFunction(timezone.now)
    from_version = "1"
    to_version = "2"
    source = "observed"


class ChangeFactory(factory.django.DjangoModelFactory):
    """A CloudTrail change row (defaults: a reserved concurrency cut by an on-call console user)."""

    class Meta:
        model = Change

    event_id = factory.Sequence(lambda n: f"00000000-0000-4000-8000-{n:012d}")
    function = factory.SubFactory(FunctionFactory)
    account = factory.SelfAttribute("function.account")
    region = factory.SelfAttribute("function.region")
    function_name = factory.SelfAttribute("function.name")
    at = factory.LazyFunction(timezone.now)
    event_name = "PutFunctionConcurrency"
    kind = "concurrency"
    actor = "role/oncall-admin"
    tool = "console"
    before = {"reserved_concurrency": 200}
    after = {"reserved_concurrency": 1}
    summary = "reserved concurrency 200 → 1"


class ErrorGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ErrorGroup

    function = factory.SubFactory(FunctionFactory)
    signature = factory.Sequence(lambda n: f"{n:040x}")
    error_type = "KeyError"
    message = "'id'"
    count = 1
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyFunction(timezone.now)


class ErrorMinuteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ErrorMinute

    group = factory.SubFactory(ErrorGroupFactory)
    ts = factory.LazyFunction(lambda: timezone.now().replace(second=0, microsecond=0))
    count = 1


class LogLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LogLine

    function = factory.SubFactory(FunctionFactory)
    ts = factory.LazyFunction(timezone.now)
    request_id = factory.Sequence(lambda n: f"req-{n:06d}")
    stream = factory.LazyAttribute(lambda line: f"{line.ts:%Y/%m/%d}/[$LATEST]abc")
    event_id = factory.Sequence(lambda n: f"ev{n}")
    message = "[ERROR] KeyError: 'id'"


class PollStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PollStatus
        django_get_or_create = ("source", "account", "region")

    source = "metrics"
    account = factory.SubFactory(AccountFactory)
    region = "us-east-1"
    last_success_at = factory.LazyFunction(timezone.now)


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue

    account = factory.SubFactory(AccountFactory)
    region = "us-east-1"
    name = factory.Sequence(lambda n: f"dlq-{n}")
    arn = factory.LazyAttribute(lambda o: f"arn:aws:sqs:{o.region}:{o.account.account_id}:{o.name}")
    last_seen = factory.LazyFunction(timezone.now)


class QueueStatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueStat

    queue = factory.SubFactory(QueueFactory)
    ts = factory.LazyFunction(lambda: timezone.now().replace(second=0, microsecond=0))
    visible_max = 0


class DlqMessageFactory(factory.django.DjangoModelFactory):
    """A stored DLQ message; pass ``doc`` (a dict) for a JSON body, or ``body`` (bytes) as is.
    ``error_type``/``error_message`` set the group signature the poller would compute."""

    class Meta:
        model = DlqMessage
        exclude = ("doc",)

    queue = factory.SubFactory(QueueFactory)
    message_id = factory.Sequence(lambda n: f"00000000-0000-4000-8000-{n:012d}")
    doc = factory.LazyAttribute(lambda o: {"id": o.message_id[-4:], "detail": {"orderId": 42}})
    body = factory.LazyAttribute(lambda o: json.dumps(o.doc).encode())
    body_text = factory.LazyAttribute(lambda o: bytes(o.body).decode("utf-8", "replace"))
    body_json = factory.LazyAttribute(lambda o: _json_or_none(o.body_text))
    body_size = factory.LazyAttribute(lambda o: len(o.body))
    shape = "async_event"
    error_type = "KeyError"
    error_message = "KeyError: 'id'"
    group_signature = factory.LazyAttribute(lambda o: _signature(o.error_type, o.error_message))
    receive_count = 1
    sent_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    first_seen_at = factory.LazyAttribute(lambda o: o.sent_at)
    last_seen_at = factory.LazyFunction(timezone.now)


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _signature(error_type: str, message: str) -> str:
    from ops.pollers.dlq.parse import error_of
    from ops.pollers.logs.errors import signature

    return signature(error_type, error_of(message)[1])


class DlqSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DlqSnapshot

    queue = factory.SubFactory(QueueFactory)
    at = factory.LazyFunction(timezone.now)
    visible = 0
    in_flight = 0
    delayed = 0


class RegionStatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionStat

    account = factory.SubFactory(AccountFactory)
    region = "us-east-1"
    ts = factory.LazyFunction(lambda: timezone.now().replace(second=0, microsecond=0))
    claimed_concurrency_max = 100


def minutes(
    series: Series, *, start: datetime, count: int, model=MinuteStat, step_s: int = 60, **columns
) -> list:
    """``count`` rows every ``step_s`` from ``start``; a callable column gets the row index."""
    rows = []
    for i in range(count):
        values = {k: (v(i) if callable(v) else v) for k, v in columns.items()}
        rows.append(model(series=series, ts=start + timedelta(seconds=i * step_s), **values))
    return model.objects.bulk_create(rows)


def function_series(function, kind: str = "function", qualifier: str = "") -> Series:
    return SeriesFactory(function=function, kind=kind, qualifier=qualifier)
