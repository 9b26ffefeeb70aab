"""The DLQ pages: login, what they say, empty states, search errors, pinned query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ops.models import FunctionQueue, Role
from tests.factories import DlqMessageFactory, DlqSnapshotFactory, FunctionFactory, QueueFactory, make_user

pytestmark = pytest.mark.django_db

# session + user + 2 permission lookups (nav role) are part of every page
LIST_QUERIES = 6  # + the queues with their numbers, + their functions
QUEUE_QUERIES = 16  # + queue, its row (2: numbers, functions), chart reads (2), counts, source queues, poll status, page (2), groups, jobs
MESSAGE_QUERIES = 7  # + queue, message, its redrive items


def text(resp) -> str:
    html = re.sub(r"<script.*?</script>", " ", resp.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&gt;", ">").replace("&#x27;", "'").replace("&quot;", '"')


@pytest.fixture
def dlq(db):
    now = timezone.now()
    q = QueueFactory(name="payments-dlq", depth_visible=3, depth_in_flight=0, depth_delayed=0, depth_at=now,
                     oldest_sent_at=now - timedelta(minutes=29), peek_at=now, peek_complete=True, peek_seen=3)
    fn = FunctionFactory(account=q.account, name="payments-worker")
    FunctionQueue.objects.create(function=fn, queue=q, role="source_dlq")
    QueueFactory(account=q.account, name="payments-queue", dlq_arn=q.arn, max_receive_count=3)
    DlqSnapshotFactory(queue=q, at=now - timedelta(minutes=2), visible=3, arrivals=3, seen=3, complete=True)
    q.json_msg = DlqMessageFactory(queue=q, doc={"detail": {"orderId": 42}, "name": "Zoë"}, request_id="req-42")
    q.raw_msg = DlqMessageFactory(queue=q, body=b"plain text, not json \xff", error_type="TimeoutError",
                                  error_message="TimeoutError: upstream")
    DlqMessageFactory(queue=q, shape="stream_record", replayable=False, doc={"KinesisBatchInfo": {"shardId": "s-1"}})
    q.fn = fn
    return q


def test_dlq_pages_need_a_login(client, dlq):
    for url in (reverse("dlqs"), reverse("dlq", args=[dlq.pk]), reverse("dlq-message", args=[dlq.pk, dlq.json_msg.pk])):
        assert client.get(url).status_code == 302


def test_the_list_shows_depth_age_arrivals_and_on_fire(client_in, dlq, django_assert_num_queries):
    with django_assert_num_queries(LIST_QUERIES):
        resp = client_in.get(reverse("dlqs"))
    t = text(resp)
    assert resp.status_code == 200
    assert "payments-dlq" in t and "payments-worker" in t and "DLQ of an event source queue" in t
    assert "on fire: +3 in 5 min" in t and "29 min" in t
    assert 'aria-current="page">DLQs</a>' in resp.content.decode()


def test_the_list_says_why_it_is_empty(client_in, db):
    assert "No dead-letter queues known" in text(client_in.get(reverse("dlqs")))
    assert "No dead-letter queue matches" in text(client_in.get(reverse("dlqs") + "?q=nope"))


def test_the_queue_page(client_in, dlq, django_assert_num_queries):
    with django_assert_num_queries(QUEUE_QUERIES):
        resp = client_in.get(reverse("dlq", args=[dlq.pk]) + "?range=6h")
    assert resp.status_code == 200
    t = text(resp)
    assert "depth 3 messages (in flight 0)" in t and "oldest 29 min" in t
    assert "source queue: payments-queue (after 3 receives)" in t
    assert "KeyError: 'id' ×2" in t and "TimeoutError: upstream ×1" in t and "KeyError: KeyError" not in t
    assert "1–3 of 3" in t and "not replayable" in t
    assert "No operator action has run on this queue yet" in t
    assert 'id="chart-data"' in resp.content.decode()
    assert "redrive all" not in t  # no redrive URL on this branch, and a viewer anyway


def test_queue_page_search_by_json_path_and_text(client_in, dlq):
    url = reverse("dlq", args=[dlq.pk])
    t = text(client_in.get(url + "?json_path=detail.orderId+%3D+42"))
    assert "1–1 of 1 matching" in t and "req-42" in t
    t = text(client_in.get(url + "?text=upstream"))
    assert "1–1 of 1 matching" in t and "TimeoutError" in t
    resp = client_in.get(url + "?json_path=detail.orderId")
    assert resp.status_code == 400
    assert "Ignored json_path: must look like path.to.key = value" in text(resp)
    assert client_in.get(url + "?group=xyz").status_code == 400


@pytest.mark.parametrize("value, why", [("%5Cu0000", "NUL"), ("%5Cud800", "lone surrogate")])
def test_a_json_path_value_postgres_cannot_hold_is_a_400_naming_json_path(client_in, dlq, value, why):
    resp = client_in.get(reverse("dlq", args=[dlq.pk]) + f"?json_path=a+%3D+%22{value}%22")
    assert resp.status_code == 400
    assert f"Ignored json_path: value holds a {why}" in text(resp)


def test_the_message_page_pretty_prints_json_and_shows_raw_otherwise(client_in, dlq, django_assert_num_queries):
    with django_assert_num_queries(MESSAGE_QUERIES):
        resp = client_in.get(reverse("dlq-message", args=[dlq.pk, dlq.json_msg.pk]))
    html = resp.content.decode()
    assert resp.status_code == 200 and 'data-body="json"' in html and "Zoë" in html
    assert '"detail": {\n    "orderId": 42\n  }' in html.replace("&quot;", '"')  # indented
    raw = client_in.get(reverse("dlq-message", args=[dlq.pk, dlq.raw_msg.pk]))
    assert 'data-body="json"' not in raw.content.decode()
    assert "raw text (not JSON)" in text(raw) or "not valid UTF-8" in text(raw)
    assert "plain text, not json" in text(raw)


def test_a_message_of_another_queue_is_404(client_in, dlq):
    other = QueueFactory(account=dlq.account, name="other-dlq")
    FunctionQueue.objects.create(function=dlq.fn, queue=other, role="lambda_dlq")
    assert client_in.get(reverse("dlq-message", args=[other.pk, dlq.json_msg.pk])).status_code == 404
    assert client_in.get(reverse("dlq", args=[999999])).status_code == 404


def test_operators_get_the_action_links_with_the_selection_viewers_none(client, dlq):
    url = reverse("dlq", args=[dlq.pk])
    client.force_login(make_user(Role.VIEWER, username="vera"))
    assert "redrive all" not in text(client.get(url))
    client.force_login(make_user(Role.OPERATOR, username="olga"))
    html = client.get(url + "?text=orderId").content.decode().replace("&amp;", "&")
    redrive, delete, purge = (reverse(n, args=[dlq.pk]) for n in ("dlq-redrive", "dlq-delete", "dlq-purge"))
    assert f'href="{redrive}">redrive all' in html
    assert f'href="{redrive}?q=orderId">redrive these' in html  # the page's search, as the action reads it
    assert f'href="{delete}?q=orderId">delete these' in html
    assert f'href="{purge}">purge' in html
    group = dlq.json_msg.group_signature
    assert f'href="{redrive}?group={group}" data-slot="redrive-group"' in html


def test_the_function_page_has_a_dlq_panel(client_in, dlq):
    t = text(client_in.get(reverse("function", args=[dlq.fn.pk]) + "?range=6h"))
    assert "Dead-letter queues" in t
    assert "payments-dlq DLQ of an event source queue 3 msgs 0 29 min 3 KeyError: 'id' ×2 browse ▸" in t


def test_a_function_without_dlqs_says_so(client_in, db):
    fn = FunctionFactory(name="lonely")
    assert "This function has no dead-letter queue" in text(client_in.get(reverse("function", args=[fn.pk])))
