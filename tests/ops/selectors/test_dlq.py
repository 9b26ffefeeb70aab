"""ops.selectors.dlq: search by text and JSON path, grouping, paging, the list, the panel, and
the fleet's depth read from the poller's truth where the AWS/SQS metric is absent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import FunctionQueue
from ops.selectors.dlq import (
    Criteria,
    CriteriaError,
    dlq_groups,
    dlq_list,
    dlq_messages_matching,
    dlq_messages_page,
    dlq_panel,
)
from ops.selectors.dlq_search import json_path_parse
from ops.selectors.fleet import fleet_page
from ops.selectors.inventory import FunctionFilters
from ops.selectors.timerange import TimeRange
from tests.factories import DlqMessageFactory, DlqSnapshotFactory, FunctionFactory, QueueFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(db):
    q = QueueFactory(name="orders-dlq")
    fn = FunctionFactory(account=q.account, name="orders")
    FunctionQueue.objects.create(function=fn, queue=q, role="lambda_dlq")
    q.fn = fn
    return q


def _ids(qs) -> set[str]:
    return set(qs.values_list("message_id", flat=True))


def test_json_path_compares_numbers_as_numbers_and_strings_as_strings(queue):
    a = DlqMessageFactory(queue=queue, doc={"detail": {"orderId": 42}})
    b = DlqMessageFactory(queue=queue, doc={"detail": {"orderId": 42.0}})
    c = DlqMessageFactory(queue=queue, doc={"detail": {"orderId": "42"}})
    d = DlqMessageFactory(queue=queue, doc={"detail": {"orderId": 7}, "user": {"name": "Zoë"}})
    e = DlqMessageFactory(queue=queue, body=b"not json {")
    assert _ids(dlq_messages_matching(queue=queue, json_path="detail.orderId = 42")) == {a.message_id, b.message_id}
    assert _ids(dlq_messages_matching(queue=queue, json_path='detail.orderId = "42"')) == {c.message_id}
    assert _ids(dlq_messages_matching(queue=queue, json_path="detail.orderId != 42")) == {c.message_id, d.message_id}
    assert _ids(dlq_messages_matching(queue=queue, json_path="user.name = Zoë")) == {d.message_id}
    assert e.message_id not in _ids(dlq_messages_matching(queue=queue, json_path="detail.orderId != 42"))


@pytest.mark.parametrize("bad", ["detail.orderId", "= 42", "a..b = 1", "a.b = {\"x\": 1}", 'a = "open', "a;drop = 1",
                                 ".".join("k" * 13) + " = 1"])
def test_a_bad_json_path_is_a_clear_error(queue, bad):
    with pytest.raises(CriteriaError):
        dlq_messages_matching(queue=queue, json_path=bad)


@pytest.mark.parametrize("bad, why", [('a = "\\u0000"', "NUL"), ('a = "x\\ud800"', "lone surrogate"),
                                      ("a = 'x\x00'", "NUL")])
def test_a_json_path_value_postgres_cannot_hold_is_a_clear_error(queue, bad, why):
    # jsonb refuses NUL and a lone surrogate cannot be sent at all: both were a 500 on the page
    DlqMessageFactory(queue=queue, doc={"a": "x"})
    with pytest.raises(CriteriaError, match=why):
        list(dlq_messages_matching(queue=queue, json_path=bad))


def test_json_path_parse_keeps_array_indexes_and_literals():
    p = json_path_parse("items.0.sku = 'A-1'")
    assert p.keys == ("items", "0", "sku") and p.value == "A-1" and not p.negate
    assert json_path_parse("ok == true").value is True and json_path_parse("x != null").negate


def test_text_search_reads_body_error_and_ids_and_gone_messages_only_on_request(queue):
    a = DlqMessageFactory(queue=queue, doc={"note": "Payment DECLINED"})
    b = DlqMessageFactory(queue=queue, error_type="TimeoutError", error_message="TimeoutError: upstream")
    c = DlqMessageFactory(queue=queue, request_id="6c7e-req", gone_at=timezone.now())
    assert _ids(dlq_messages_matching(queue=queue, text="declined")) == {a.message_id}
    assert _ids(dlq_messages_matching(queue=queue, text="upstream")) == {b.message_id}
    assert _ids(dlq_messages_matching(queue=queue, text="6c7e-req")) == set()
    assert _ids(dlq_messages_matching(queue=queue, text="6c7e-req", present_only=False)) == {c.message_id}


def test_groups_count_first_and_last_and_window(queue):
    now = timezone.now()
    for i in range(3):
        DlqMessageFactory(queue=queue, sent_at=now - timedelta(minutes=30 - i))
    DlqMessageFactory(queue=queue, error_type="TimeoutError", error_message="TimeoutError: after 5s", sent_at=now - timedelta(minutes=2))
    DlqMessageFactory(queue=queue, error_type="TimeoutError", error_message="TimeoutError: after 9s", sent_at=now - timedelta(minutes=1))
    DlqMessageFactory(queue=queue, gone_at=now)  # gone: not counted
    groups = dlq_groups(queue=queue)
    assert [(g.error_type, g.count) for g in groups] == [("KeyError", 3), ("TimeoutError", 2)]  # 5s and 9s: one group
    key = groups[0]
    assert key.first_sent == now - timedelta(minutes=30) and key.last_sent == now - timedelta(minutes=28)
    recent = dlq_groups(queue=queue, since=now - timedelta(minutes=5), until=now)
    assert [(g.error_type, g.count) for g in recent] == [("TimeoutError", 2)]
    assert _ids(dlq_messages_matching(queue=queue, group=key.signature)) == _ids(
        dlq_messages_matching(queue=queue, text="KeyError"))


def test_messages_page_by_page_newest_first(queue):
    now = timezone.now()
    made = [DlqMessageFactory(queue=queue, sent_at=now - timedelta(minutes=i)) for i in range(7)]
    p1 = dlq_messages_page(queue=queue, criteria=Criteria(), page=1, per_page=3)
    p3 = dlq_messages_page(queue=queue, criteria=Criteria(), page=3, per_page=3)
    assert p1.total == 7 and p1.pages == 3 and p1.has_next and not p3.has_next
    assert [m.message_id for m in p1.rows] == [m.message_id for m in made[:3]]
    assert [m.message_id for m in p3.rows] == [made[6].message_id]
    assert p1.rows[0].preview.startswith("{")


def test_list_and_panel_read_the_truth_and_arrivals(queue):
    now = timezone.now()
    queue.depth_visible, queue.depth_in_flight, queue.depth_at = 13, 0, now
    queue.oldest_sent_at = now - timedelta(minutes=29)
    queue.save()
    DlqSnapshotFactory(queue=queue, at=now - timedelta(hours=2), visible=1, arrivals=1)
    DlqSnapshotFactory(queue=queue, at=now - timedelta(minutes=30), visible=5, arrivals=4)
    DlqSnapshotFactory(queue=queue, at=now - timedelta(minutes=1), visible=13, arrivals=8)
    DlqMessageFactory(queue=queue)
    rows = dlq_list(now=now)
    assert len(rows) == 1
    r = rows[0]
    assert (r.depth, r.depth_source, r.arrivals_1h, r.arrivals_now, r.growth_1h) == (13, "attributes", 12, 8, 12)
    assert r.on_fire and round(r.oldest_age_s) == 29 * 60 and r.links[0].function.name == "orders"
    panel = dlq_panel(function=queue.fn, since=now - timedelta(hours=6), until=now)
    assert [(p.queue.name, p.depth, p.arrivals, p.top_error_type, p.top_count) for p in panel] == [
        ("orders-dlq", 13, 13, "KeyError", 1)]


def test_fleet_depth_reads_the_poller_truth_where_the_metric_is_absent(queue):
    now = timezone.now()
    DlqSnapshotFactory(queue=queue, at=now - timedelta(minutes=3), visible=13)
    rng = TimeRange.preset("1h", now=now)
    fp = fleet_page(time_range=rng, filters=FunctionFilters(), sort="name")
    row = next(r for r in fp.rows if r.name == "orders")
    assert row.dlq_depth == 13


def test_fleet_growth_counts_arrivals_even_when_the_depth_stayed_flat(queue):
    now = timezone.now()
    DlqSnapshotFactory(queue=queue, at=now - timedelta(minutes=50), visible=3)
    DlqSnapshotFactory(queue=queue, at=now - timedelta(minutes=3), visible=3, arrivals=3)  # drained and refilled
    fp = fleet_page(time_range=TimeRange.preset("1h", now=now), filters=FunctionFilters(), sort="name")
    row = next(r for r in fp.rows if r.name == "orders")
    assert (row.dlq_depth, row.dlq_growth) == (3, 3)


def test_a_function_timeline_shows_jobs_on_its_dlqs(queue):
    from ops.models import Job
    from ops.selectors.jobs import jobs_for_function

    job = Job.objects.create(kind="dlq.redrive", account=queue.account, region=queue.region, resource_arn=queue.arn,
                             target_label=queue.name)
    assert [j.pk for j in jobs_for_function(function=queue.fn)] == [job.pk]
