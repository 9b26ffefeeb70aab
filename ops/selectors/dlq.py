"""Reads of dead-letter queues and their stored messages: the DLQ list, a queue's page, its error
groups, its messages (server-paged and searchable), one message, and the function page's panel.

``dlq_messages_matching`` is the contract the redrive actions use to select messages: the same
criteria the queue page searches with, as a QuerySet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone

from ops.models import DLQ_ROLES, DlqMessage, DlqSnapshot, Function, FunctionQueue, PollSource, PollStatus, Queue, QueueStat
from ops.rules.evaluate import value_level
from ops.rules.now import NOW_WINDOW
from ops.rules.signals import DLQ_GROWTH, Level
from ops.selectors.dlq_search import Criteria, CriteriaError, JsonPath, json_path_parse

__all__ = [
    "Criteria",
    "CriteriaError",
    "dlq_detail",
    "dlq_groups",
    "dlq_list",
    "dlq_message",
    "dlq_messages_matching",
    "dlq_messages_page",
    "dlq_panel",
]

PER_PAGE = 50
PREVIEW_CHARS = 160
MAX_CHART_POINTS = 2000
ARRIVALS_WINDOW = timedelta(hours=1)


def _dlq_queues() -> QuerySet[Queue]:
    return Queue.objects.filter(pk__in=FunctionQueue.objects.filter(role__in=DLQ_ROLES).values("queue_id"))


def _links_prefetch() -> Prefetch:
    return Prefetch(
        "function_links",
        queryset=FunctionQueue.objects.filter(role__in=DLQ_ROLES).select_related("function").order_by("function__name"),
        to_attr="dlq_links",
    )


def _metric_depth() -> Subquery:
    # Before the DLQ poller's first read (or where it cannot read the queue) the AWS/SQS metric's
    # latest depth still answers.
    return Subquery(
        QueueStat.objects.filter(queue=OuterRef("pk"), visible_max__isnull=False).order_by("-ts").values("visible_max")[:1]
    )


@dataclass
class DlqRow:
    queue: Queue
    depth: float | None  # visible messages: the poller's read, else the metric's
    depth_source: str  # "attributes" | "metric" | ""
    in_flight: int | None
    oldest_age_s: float | None
    arrivals_1h: int
    growth_1h: float | None  # depth now minus depth an hour ago
    arrivals_now: int  # in the rules' now window
    on_fire: bool
    links: list = field(default_factory=list)


def dlq_list(*, now: datetime | None = None, q: str = "") -> list[DlqRow]:
    """Every known DLQ with its depth, oldest age, arrivals in the last hour, growth and its
    functions; on fire when the DLQ-growth rule says so of the now window's arrivals
    (two queries: the queues with their numbers, and their functions)."""
    now = now or timezone.now()
    qs = _dlq_queues().select_related("account")
    if q:
        qs = qs.filter(name__icontains=q)
    qs = _annotated(qs, now).order_by("name", "pk")
    rows = []
    for queue in qs:
        rows.append(_row(queue, now))
    rows.sort(key=lambda r: (not r.on_fire, -(r.depth or 0), r.queue.name))
    return rows


def _annotated(qs: QuerySet[Queue], now: datetime) -> QuerySet[Queue]:
    return qs.annotate(
        arrivals_1h=Coalesce(Sum("snapshots__arrivals", filter=Q(snapshots__at__gte=now - ARRIVALS_WINDOW)), 0),
        arrivals_now=Coalesce(Sum("snapshots__arrivals", filter=Q(snapshots__at__gte=now - NOW_WINDOW)), 0),
        metric_depth=_metric_depth(),
        metric_age=Subquery(
            QueueStat.objects.filter(queue=OuterRef("pk"), oldest_age_max_s__isnull=False)
            .order_by("-ts").values("oldest_age_max_s")[:1]
        ),
        depth_hour_ago=Subquery(
            DlqSnapshot.objects.filter(queue=OuterRef("pk"), at__lte=now - ARRIVALS_WINDOW).order_by("-at").values("visible")[:1]
        ),
    ).prefetch_related(_links_prefetch())


def _row(queue: Queue, now: datetime) -> DlqRow:
    if queue.depth_visible is not None:
        depth, source = float(queue.depth_visible), "attributes"
    elif queue.metric_depth is not None:
        depth, source = float(queue.metric_depth), "metric"
    else:
        depth, source = None, ""
    age = None
    if queue.oldest_sent_at is not None and queue.depth_visible:
        age = max(0.0, (now - queue.oldest_sent_at).total_seconds())
    elif queue.depth_visible is None and queue.metric_age is not None:
        age = float(queue.metric_age)
    growth = None
    if queue.depth_visible is not None and queue.depth_hour_ago is not None:
        growth = float(queue.depth_visible - queue.depth_hour_ago)
    return DlqRow(
        queue=queue, depth=depth, depth_source=source, in_flight=queue.depth_in_flight, oldest_age_s=age,
        arrivals_1h=int(queue.arrivals_1h), growth_1h=growth, arrivals_now=int(queue.arrivals_now),
        on_fire=value_level(DLQ_GROWTH, float(queue.arrivals_now)) == Level.BAD, links=list(queue.dlq_links),
    )


@dataclass
class DlqDetail:
    row: DlqRow
    source_queues: list  # the event-source queues whose RedrivePolicy names this DLQ
    poll: PollStatus | None
    chart: dict  # {"attributes": [(at, visible, in_flight)], "metric": [(ts, visible)]}
    arrivals_in_range: int
    present: int  # stored messages still in the queue
    stored: int  # stored messages, gone included


def dlq_queue(*, pk: int) -> Queue | None:
    return _dlq_queues().select_related("account").filter(pk=pk).first()


def dlq_detail(*, queue: Queue, since: datetime, until: datetime, now: datetime | None = None) -> DlqDetail:
    """The queue page's header, depth chart data and counts."""
    now = now or timezone.now()
    row = dlq_list_row(queue=queue, now=now)
    snaps = list(
        DlqSnapshot.objects.filter(queue=queue, at__gte=since, at__lt=until).order_by("at")
        .values_list("at", "visible", "in_flight", "arrivals")[:MAX_CHART_POINTS]
    )
    metric = list(
        QueueStat.objects.filter(queue=queue, ts__gte=since, ts__lt=until, visible_max__isnull=False).order_by("ts")
        .values_list("ts", "visible_max")[:MAX_CHART_POINTS]
    )
    counts = DlqMessage.objects.filter(queue=queue).aggregate(
        present=Count("pk", filter=Q(gone_at__isnull=True)), stored=Count("pk")
    )
    return DlqDetail(
        row=row,
        source_queues=list(Queue.objects.filter(dlq_arn=queue.arn).order_by("name")),
        poll=PollStatus.objects.filter(source=PollSource.DLQ, account_id=queue.account_id, region=queue.region).first(),
        chart={"attributes": [(a, v, f) for a, v, f, _ in snaps], "metric": metric},
        arrivals_in_range=sum(n for *_, n in snaps),
        present=counts["present"],
        stored=counts["stored"],
    )


def dlq_list_row(*, queue: Queue, now: datetime | None = None) -> DlqRow:
    """One queue's row of the DLQ list (two queries)."""
    now = now or timezone.now()
    return _row(_annotated(Queue.objects.filter(pk=queue.pk).select_related("account"), now).get(), now)


def error_label(error_type: str, message: str) -> str:
    """"KeyError: 'id'" from its type and message, without saying the type twice (Lambda's
    ErrorMessage attribute often starts with it); "" when neither is known."""
    message = (message or "").strip().split("\n", 1)[0]
    if not error_type:
        return message
    if not message or message.startswith(error_type):
        return message or error_type
    return f"{error_type}: {message}"


@dataclass
class DlqGroup:
    signature: str
    error_type: str
    error_message: str  # one message of the group, as sent
    count: int
    first_sent: datetime | None
    last_sent: datetime | None
    replayable: int  # how many of them can be replayed from the message
    link: str = ""  # filled by the page: select this group; redrive it
    redrive_link: str = ""

    @property
    def label(self) -> str:
        return error_label(self.error_type, self.error_message)


def dlq_groups(*, queue: Queue, since: datetime | None = None, until: datetime | None = None,
               criteria: Criteria | None = None, limit: int = 50) -> list[DlqGroup]:
    """The present messages grouped by error (type and normalised message), biggest first."""
    qs = _matching(queue=queue, criteria=criteria or Criteria(since=since, until=until))
    rows = (
        qs.values("group_signature")
        .annotate(n=Count("pk"), first=Min("sent_at"), last=Max("sent_at"), etype=Max("error_type"),
                  emsg=Min("error_message"), replay=Count("pk", filter=Q(replayable=True)))
        .order_by("-n", "group_signature")[:limit]
    )
    return [DlqGroup(signature=r["group_signature"], error_type=r["etype"] or "", error_message=r["emsg"] or "",
                     count=r["n"], first_sent=r["first"], last_sent=r["last"], replayable=r["replay"]) for r in rows]


def _json_path_sql(path: JsonPath) -> RawSQL:
    # jsonb equality compares numbers as numbers (42 = 42.0) and never a number with a string.
    literal = json.dumps(path.value, ensure_ascii=False)
    if path.negate:
        sql = "(ops_dlqmessage.body_json IS NOT NULL AND (ops_dlqmessage.body_json #> %s) IS DISTINCT FROM %s::jsonb)"
    else:
        sql = "((ops_dlqmessage.body_json #> %s) = %s::jsonb)"
    return RawSQL(sql, (list(path.keys), literal), output_field=BooleanField())


def _matching(*, queue: Queue, criteria: Criteria) -> QuerySet[DlqMessage]:
    qs = DlqMessage.objects.filter(queue=queue)
    if criteria.present_only:
        qs = qs.filter(gone_at__isnull=True)
    if criteria.group:
        qs = qs.filter(group_signature=criteria.group)
    if criteria.since is not None:
        qs = qs.filter(sent_at__gte=criteria.since)
    if criteria.until is not None:
        qs = qs.filter(sent_at__lt=criteria.until)
    if criteria.text:
        t = criteria.text
        qs = qs.filter(Q(body_text__icontains=t) | Q(error_message__icontains=t) | Q(error_type__icontains=t)
                       | Q(message_id=t) | Q(request_id=t))
    if criteria.json_path is not None:
        qs = qs.filter(_json_path_sql(criteria.json_path))
    return qs


def dlq_messages_matching(*, queue: Queue, text: str = "", json_path: str = "", group: str = "",
                          since: datetime | None = None, until: datetime | None = None,
                          present_only: bool = True) -> QuerySet[DlqMessage]:
    """The stored messages of ``queue`` a search selects, newest sent first.

    ``text``: in the body, the error, or exactly a message id or request id (case-insensitive).
    ``json_path``: ``a.b.c = value`` or ``!=`` (ops.selectors.dlq_search); a bad expression
    raises CriteriaError with a message fit for the operator. ``!=`` also selects JSON bodies
    without that path, never bodies that are not JSON. ``group``: a group signature.
    ``since``/``until``: on the time the message entered the DLQ (SentTimestamp), [since, until).
    ``present_only``: only messages the last complete peek still found.
    """
    criteria = Criteria(text=text, json_path=json_path_parse(json_path), group=group, since=since, until=until,
                        present_only=present_only)
    return _matching(queue=queue, criteria=criteria).order_by("-sent_at", "-pk")


@dataclass(frozen=True)
class MessagePage:
    rows: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def dlq_messages_page(*, queue: Queue, criteria: Criteria, page: int = 1, per_page: int = PER_PAGE) -> MessagePage:
    """One page of matching messages, newest sent first, without their bodies (a preview only;
    two queries: the count and the page)."""
    qs = _matching(queue=queue, criteria=criteria)
    total = qs.count()
    rows = list(
        qs.order_by("-sent_at", "-pk")
        .defer("body", "body_text", "body_json", "attributes", "message_attributes")
        .annotate(preview=Substr("body_text", 1, PREVIEW_CHARS))[(page - 1) * per_page: page * per_page]
    )
    return MessagePage(rows=rows, total=total, page=page, per_page=per_page)


def dlq_message(*, queue: Queue, pk: int) -> DlqMessage | None:
    """One stored message of ``queue`` with what redrives did with it (two queries)."""
    msg = DlqMessage.objects.filter(queue=queue, pk=pk).first()
    if msg is not None:
        msg.history = list(msg.redrive_items.select_related("job").order_by("-updated_at")[:20])
    return msg


@dataclass(frozen=True)
class DlqPanelRow:
    queue: Queue
    role: str
    role_label: str
    depth: int | None
    in_flight: int | None
    oldest_age_s: float | None
    arrivals: int  # in the page's range
    top_error_type: str
    top_error_message: str
    top_count: int

    @property
    def top_label(self) -> str:
        return error_label(self.top_error_type, self.top_error_message)


def dlq_panel(*, function: Function, since: datetime, until: datetime, now: datetime | None = None) -> list[DlqPanelRow]:
    """The function page's DLQ panel: each of its DLQs with depth, in flight, oldest age, arrivals
    in the range and the biggest error group of the present messages (one query)."""
    now = now or timezone.now()
    present = DlqMessage.objects.filter(queue=OuterRef("queue_id"), gone_at__isnull=True)
    top = present.values("group_signature").annotate(n=Count("pk")).order_by("-n", "group_signature")
    links = (
        FunctionQueue.objects.filter(function=function, role__in=DLQ_ROLES).select_related("queue")
        .annotate(
            arrivals=Coalesce(Subquery(
                DlqSnapshot.objects.filter(queue=OuterRef("queue_id"), at__gte=since, at__lt=until)
                .values("queue").annotate(s=Sum("arrivals")).values("s")[:1], output_field=IntegerField()), 0),
            top_type=Subquery(top.annotate(t=Max("error_type")).values("t")[:1]),
            top_message=Subquery(top.annotate(m=Min("error_message")).values("m")[:1]),
            top_n=Subquery(top.values("n")[:1], output_field=IntegerField()),
        )
        .order_by("queue__name", "role")
    )
    out = []
    for link in links:
        q = link.queue
        age = None
        if q.oldest_sent_at is not None and q.depth_visible:
            age = max(0.0, (now - q.oldest_sent_at).total_seconds())
        out.append(DlqPanelRow(
            queue=q, role=link.role, role_label=link.get_role_display(), depth=q.depth_visible, in_flight=q.depth_in_flight,
            oldest_age_s=age, arrivals=int(link.arrivals or 0), top_error_type=link.top_type or "",
            top_error_message=link.top_message or "", top_count=int(link.top_n or 0),
        ))
    return out

