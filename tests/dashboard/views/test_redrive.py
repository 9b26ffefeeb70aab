"""The DLQ action pages: confirm with a preview, operators only, one job per request key, typed
confirmation for delete and purge, and the job page's per-message panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ops.models import DlqMessage, FunctionQueue, Job, JobKind, QueueRole, RedriveItem, RedriveItemState, Role
from tests.factories import AccountFactory, FunctionFactory, QueueFactory, make_user
from tests.ops.actions.redrive.helpers import signature

pytestmark = pytest.mark.django_db

KEYERROR = signature("KeyError: 'id'")


@pytest.fixture
def no_enqueue(monkeypatch):
    from ops.tasks import actions

    sent: list[int] = []
    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: sent.append(job_id))
    return sent


def _store(queue, n: int, *, group: str = KEYERROR, sent_at=None, error=("KeyError", "'id'")) -> list[str]:
    now = timezone.now()
    sent_at = sent_at or now - timedelta(minutes=20)
    rows = [DlqMessage(queue=queue, message_id=f"{queue.name}-{group[:4]}-{sent_at:%H%M}-{i}", body=b'{"orderId": 1}',
                       body_text='{"orderId": 1}', body_size=14, error_type=error[0], error_message=error[1],
                       group_signature=group, sent_at=sent_at, first_seen_at=now, last_seen_at=now) for i in range(n)]
    return [m.message_id for m in DlqMessage.objects.bulk_create(rows)]


@pytest.fixture
def dlq():
    account = AccountFactory(name="prod", account_id="123456789012")
    fn = FunctionFactory(account=account, name="payments-api")
    queue = QueueFactory(account=account, name="payments-dlq")
    FunctionQueue.objects.create(function=fn, queue=queue, role=QueueRole.LAMBDA_DLQ)
    return queue


@pytest.fixture
def operator(client):
    client.force_login(make_user(Role.OPERATOR, "olga"))
    return client


def test_a_viewer_gets_403_on_every_dlq_action_both_ways(client, dlq, no_enqueue):
    client.force_login(make_user(Role.VIEWER, "vera"))
    for name in ("dlq-redrive", "dlq-delete", "dlq-purge"):
        url = reverse(name, args=[dlq.pk])
        assert client.get(url).status_code == 403
        assert client.post(url, {"idempotency_key": "v" * 16, "confirm_name": dlq.name}).status_code == 403
    assert not Job.objects.exists() and no_enqueue == []


def test_the_confirm_page_previews_how_many_where_to_and_a_sample(operator, dlq):
    _store(dlq, 7)
    html = operator.get(reverse("dlq-redrive", args=[dlq.pk])).content.decode()
    assert '<strong id="preview-count">7</strong> messages of payments-dlq (every message in the queue)' in html
    assert "re-invoked asynchronously on payments-api (this queue is its async DLQ)" in html
    assert html.count("payments-dlq-") == 5  # the sample, oldest first
    assert "No message is deleted from payments-dlq before its re-delivery succeeded" in html
    assert "Redrive 7 messages" in html


def test_the_page_filters_by_error_group_and_window_in_one_step(operator, dlq):
    now = timezone.now()
    _store(dlq, 4, sent_at=now - timedelta(minutes=20))
    _store(dlq, 3, sent_at=now - timedelta(hours=3))
    _store(dlq, 2, group=signature("TimeoutError"), error=("TimeoutError", ""), sent_at=now - timedelta(minutes=20))
    since, until = (now - timedelta(minutes=30)).isoformat(), (now - timedelta(minutes=10)).isoformat()
    html = operator.get(reverse("dlq-redrive", args=[dlq.pk]), {"group": KEYERROR, "since": since, "until": until}).content.decode()
    assert '<strong id="preview-count">4</strong>' in html
    assert f'name="group" value="{KEYERROR}"' in html and 'name="since"' in html


def test_bad_selection_values_are_a_400_naming_the_parameter(operator, dlq):
    resp = operator.get(reverse("dlq-redrive", args=[dlq.pk]), {"group": "not-hex!"})
    assert resp.status_code == 400 and "group: must be an error group" in resp.content.decode()
    resp = operator.get(reverse("dlq-redrive", args=[dlq.pk]), {"id": "a b"})
    assert resp.status_code == 400 and "id: must be SQS message ids" in resp.content.decode()


@pytest.mark.parametrize("action", ["dlq-redrive", "dlq-delete"])
@pytest.mark.parametrize("bad, named", [
    ({"id": "a b"}, "id: must be SQS message ids"),
    ({"group": "not-hex!"}, "group: must be an error group"),
    ({"since": "yesterday"}, "since: must be an ISO 8601 time"),
    ({"until": "soon"}, "until: must be an ISO 8601 time"),
    ({"json_path": "orderId"}, "json_path: must look like path.to.key = value"),
    ({"json_path": "a = " + "x" * 400}, "json_path: is 404 characters long; at most 300 are accepted"),
])
def test_a_bad_selection_value_is_a_400_with_no_form_never_a_wider_selection(operator, dlq, action, bad, named):
    # Dropping the bad value and offering the rest would act on more messages than were chosen
    # (a dropped until, say, widens the window to now).
    _store(dlq, 7)
    query = {"group": KEYERROR, "since": (timezone.now() - timedelta(hours=1)).isoformat(), **bad}
    resp = operator.get(reverse(action, args=[dlq.pk]), query)
    html = resp.content.decode()
    assert resp.status_code == 400 and named in html
    assert 'id="confirm-form"' not in html and 'id="confirm-button"' not in html and "preview-count" not in html


def test_a_json_path_the_dlq_page_accepts_is_read_here_too(operator, dlq):
    # The DLQ page takes expressions of up to 300 characters and links here with them.
    _store(dlq, 7)
    path = "orderId = " + "9" * 280
    resp = operator.get(reverse("dlq-redrive", args=[dlq.pk]), {"json_path": path})
    html = resp.content.decode()
    assert resp.status_code == 200 and '<strong id="preview-count">0</strong>' in html
    assert f"matching {path}" in html


@pytest.mark.parametrize("action, extra", [("dlq-redrive", {}), ("dlq-delete", {"confirm_name": "payments-dlq"})])
def test_a_post_with_an_unreadable_json_path_is_a_400_not_a_500(operator, dlq, no_enqueue, action, extra):
    _store(dlq, 3)
    resp = operator.post(reverse(action, args=[dlq.pk]), {"idempotency_key": "jp-key-12345678", "json_path": "orderId",
                                                          "group": KEYERROR, **extra})
    html = resp.content.decode()
    assert resp.status_code == 400 and "json_path: must look like path.to.key = value" in html
    assert 'id="confirm-button"' not in html and not Job.objects.exists() and no_enqueue == []


def test_a_search_the_database_cannot_run_is_a_400_page_both_ways(operator, dlq, no_enqueue, monkeypatch):
    # A value the search refuses only when it builds the query (a NUL or a lone surrogate in a
    # JSON string, say) comes back as CriteriaError: a 400 page, never a 500.
    from ops.selectors import redrive
    from ops.selectors.dlq_search import CriteriaError

    _store(dlq, 3)

    def refuse(**kw):
        raise CriteriaError("value must not hold NUL or a lone surrogate")

    monkeypatch.setattr(redrive, "dlq_messages_matching", refuse)
    resp = operator.get(reverse("dlq-redrive", args=[dlq.pk]), {"json_path": "a = 1"})
    assert resp.status_code == 400 and "json_path: value must not hold NUL or a lone surrogate" in resp.content.decode()
    assert 'id="confirm-button"' not in resp.content.decode()
    resp = operator.post(reverse("dlq-delete", args=[dlq.pk]), {"idempotency_key": "nul-key-1234567", "json_path": "a = 1",
                                                               "confirm_name": dlq.name})
    assert resp.status_code == 400 and "json_path: value must not hold NUL or a lone surrogate" in resp.content.decode()
    assert not Job.objects.exists()


def test_two_identical_posts_make_one_job(operator, dlq, no_enqueue, django_capture_on_commit_callbacks):
    ids = _store(dlq, 3)
    form = {"idempotency_key": "same-key-123456", "id": ids[:2]}
    with django_capture_on_commit_callbacks(execute=True):
        first = operator.post(reverse("dlq-redrive", args=[dlq.pk]), form)
        second = operator.post(reverse("dlq-redrive", args=[dlq.pk]), form)
    job = Job.objects.get()
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"] == reverse("job", args=[job.pk])
    assert (job.kind, job.resource_arn, job.parameters["selection"]["ids"], job.parameters["selected"]) == (
        JobKind.DLQ_REDRIVE, dlq.arn, ids[:2], 2)
    assert job.parameters["target"]["kind"] == "invoke" and no_enqueue == [job.pk]


def test_a_second_request_while_one_runs_returns_the_running_job(operator, dlq, no_enqueue):
    _store(dlq, 3)
    operator.post(reverse("dlq-redrive", args=[dlq.pk]), {"idempotency_key": "first-key-123456"})
    resp = operator.post(reverse("dlq-delete", args=[dlq.pk]), {"idempotency_key": "other-key-123456", "group": KEYERROR,
                                                               "confirm_name": dlq.name})
    assert Job.objects.count() == 1 and resp["Location"] == reverse("job", args=[Job.objects.get().pk])


def test_delete_and_purge_need_the_queue_name_typed(operator, dlq, no_enqueue):
    _store(dlq, 3)
    resp = operator.post(reverse("dlq-delete", args=[dlq.pk]), {"idempotency_key": "del-key-1234567", "group": KEYERROR,
                                                               "confirm_name": "payments"})
    assert resp.status_code == 400 and "confirm_name: type the queue&#x27;s name, payments-dlq, to confirm." in resp.content.decode()
    resp = operator.post(reverse("dlq-purge", args=[dlq.pk]), {"idempotency_key": "purge-key-123456", "confirm_name": ""})
    assert resp.status_code == 400 and not Job.objects.exists()
    resp = operator.post(reverse("dlq-purge", args=[dlq.pk]), {"idempotency_key": "purge-key-123456", "confirm_name": "payments-dlq"})
    assert resp.status_code == 302 and Job.objects.get().kind == JobKind.DLQ_PURGE


def test_the_move_task_is_offered_for_an_event_source_dlq_with_sqs_velocity_limit(operator, no_enqueue):
    account = AccountFactory(name="prod", account_id="123456789012")
    dlq = QueueFactory(account=account, name="orders-dlq")
    source = QueueFactory(account=account, name="orders-queue", dlq_arn=dlq.arn, url="http://x/123456789012/orders-queue")
    fn = FunctionFactory(account=account, name="orders-worker")
    FunctionQueue.objects.create(function=fn, queue=source, role=QueueRole.EVENT_SOURCE)
    FunctionQueue.objects.create(function=fn, queue=dlq, role=QueueRole.SOURCE_DLQ)
    _store(dlq, 2)
    html = operator.get(reverse("dlq-redrive", args=[dlq.pk])).content.decode()
    assert 'name="method" value="move"' in html and "re-sent to orders-queue" in html
    resp = operator.post(reverse("dlq-redrive", args=[dlq.pk]), {"idempotency_key": "move-key-123456", "method": "move", "velocity": "501"})
    assert resp.status_code == 400 and "velocity: SQS moves at most 500 messages per second." in resp.content.decode()
    resp = operator.post(reverse("dlq-redrive", args=[dlq.pk]), {"idempotency_key": "move-key-123456", "method": "move", "velocity": "120"})
    job = Job.objects.get()
    assert resp.status_code == 302 and (job.kind, job.parameters["velocity"]) == (JobKind.DLQ_MOVE, 120)


def test_a_queue_with_nowhere_to_go_says_so_and_offers_no_button(operator):
    account = AccountFactory(name="prod")
    queue = QueueFactory(account=account, name="stray-dlq")
    # Linked as an event source's DLQ, but that source queue is no longer known.
    FunctionQueue.objects.create(function=FunctionFactory(account=account, name="stray"), queue=queue, role=QueueRole.SOURCE_DLQ)
    html = operator.get(reverse("dlq-redrive", args=[queue.pk])).content.decode()
    assert "stray-dlq cannot be redriven: nowhere" in html and 'id="confirm-button"' not in html


def test_the_job_page_shows_per_state_counts_and_the_failed_messages_with_reasons(operator, dlq, no_enqueue):
    ids = _store(dlq, 4)
    operator.post(reverse("dlq-redrive", args=[dlq.pk]), {"idempotency_key": "panel-key-123456"})
    job = Job.objects.get()
    for i, (state, reason) in enumerate([(RedriveItemState.REDRIVEN, ""), (RedriveItemState.REDRIVEN, ""),
                                         (RedriveItemState.FAILED, "Invoke failed: TooManyRequestsException: Rate exceeded"),
                                         (RedriveItemState.LEFT, "not in the DLQ any more: deleted or expired elsewhere")]):
        RedriveItem.objects.create(job=job, queue=dlq, message_id=ids[i], state=state, reason=reason)
    html = operator.get(reverse("job", args=[job.pk])).content.decode()
    assert '<tr data-state="redriven"><td>redriven (re-delivered, then deleted from the DLQ)</td><td class="num">2</td></tr>' in html
    assert '<tr data-state="failed"><td>failed (still in the DLQ)</td><td class="num">1</td></tr>' in html
    assert "Invoke failed: TooManyRequestsException: Rate exceeded" in html
    assert "not in the DLQ any more" in html


def test_the_actions_are_a_404_for_a_queue_that_is_not_a_dlq(operator, dlq, no_enqueue):
    source = QueueFactory(account=dlq.account, name="payments-queue", dlq_arn=dlq.arn)
    FunctionQueue.objects.create(function=FunctionFactory(account=dlq.account, name="payments-worker"), queue=source,
                                 role=QueueRole.EVENT_SOURCE)
    for name in ("dlq-redrive", "dlq-delete", "dlq-purge"):
        url = reverse(name, args=[source.pk])
        assert operator.get(url).status_code == 404
        assert operator.post(url, {"idempotency_key": "src-key-1234567", "confirm_name": source.name}).status_code == 404
    assert not Job.objects.exists() and no_enqueue == []


def test_the_job_acts_on_what_the_confirm_page_previewed_not_on_later_arrivals(operator, dlq, no_enqueue):
    import re

    _store(dlq, 3)
    html = operator.get(reverse("dlq-delete", args=[dlq.pk]), {"group": KEYERROR}).content.decode()
    last = DlqMessage.objects.filter(queue=dlq).order_by("-pk").first().pk
    assert f'name="upto" value="{last}"' in html
    assert "Messages that arrived after the confirm page are not included." in html
    later = _store(dlq, 2, sent_at=timezone.now() - timedelta(minutes=5))  # same group, stored after the page
    form = {"idempotency_key": "frozen-key-12345", "group": KEYERROR, "confirm_name": dlq.name,
            "upto": re.search(r'name="upto" value="(\d+)"', html).group(1)}
    resp = operator.post(reverse("dlq-delete", args=[dlq.pk]), form)
    job = Job.objects.get()
    assert resp.status_code == 302 and (job.parameters["selection"]["upto"], job.parameters["selected"]) == (last, 3)
    from ops.selectors.redrive import RedriveSelection, redrive_messages

    chosen = set(redrive_messages(queue=dlq, selection=RedriveSelection.from_params(job.parameters["selection"]))
                 .values_list("message_id", flat=True))
    assert len(chosen) == 3 and not chosen & set(later)
    page = operator.get(reverse("job", args=[job.pk])).content.decode()
    assert "messages that arrived after the confirm page are not included" in page
