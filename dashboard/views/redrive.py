"""DLQ actions: redrive, delete chosen messages, purge. GET is the confirm page (with a preview:
how many, where to, a sample, what is deleted and when); POST makes the job and goes to its page.
Operators only, both ways: the confirm page is the first half of the action.

A selection value that cannot be read (a bad id, group, since, until, text or JSON path) is a
400 page naming it with no form: unlike the read pages (``params.page_view``), an action page
never drops the value and carries on, since what remained would select more messages than the
operator asked for (a dropped ``until`` widens the window to now).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard import params
from dashboard.confirm import confirm_context
from dashboard.job_panels import job_panel_register
from dashboard.permissions import operator_required
from dashboard.redrive_forms import RedriveForm, TypedConfirmForm, selection_from
from ops.actions.runner import JOB_SOFT_TIME_LIMIT, JobRequestError
from ops.models import Job, JobKind, Queue, RedriveItemState
from ops.selectors.dlq import dlq_queue
from ops.selectors.jobs import jobs_for_target
from ops.selectors.redrive import (
    RedriveSelection,
    RedriveSelectionError,
    redrive_item_counts,
    redrive_items_unfinished,
    redrive_preview,
    redrive_target,
)
from ops.services.redrive import dlq_delete_request, dlq_purge_request, dlq_redrive_request


def _queue_or_404(pk: int) -> Queue:
    # DLQs only, as the DLQ pages: a live event source queue has no redrive, delete or purge.
    queue = dlq_queue(pk=pk)
    if queue is None:
        raise Http404("No such dead-letter queue")
    return queue


def _back(queue: Queue) -> str:
    """Where "cancel" goes: the queue's page once it exists, else the overview."""
    try:
        return reverse("dlq", args=[queue.pk])
    except Exception:  # noqa: BLE001 - the DLQ pages arrive with the read half
        return reverse("overview")


def _hidden(selection: RedriveSelection, preview) -> dict:
    """The selection as the confirm form's hidden fields carry it back, frozen at the highest
    stored message id this page previewed (0: it previewed none)."""
    return {
        "upto": preview.last_pk or selection.upto or 0,
        "ids": selection.ids,
        "group": selection.group,
        "since": selection.since.isoformat() if selection.since else "",
        "until": selection.until.isoformat() if selection.until else "",
        "q": selection.text,
        "json_path": selection.json_path,
    }


def _refused(request: HttpRequest, queue: Queue, message: str) -> HttpResponse:
    """The selection cannot be read: say why, offer no confirm form (and no link that drops the value)."""
    return render(request, "dashboard/redrive/bad_selection.html", {"queue": queue, "message": message, "back": _back(queue)},
                  status=400)


def _page(request: HttpRequest, queue: Queue, template: str, action: str, *, selection: RedriveSelection, status: int = 200,
          error: str = "", **extra) -> HttpResponse:
    try:
        preview = redrive_preview(queue=queue, selection=selection)
    except RedriveSelectionError as err:
        return _refused(request, queue, f"json_path: {err}")
    context = confirm_context(
        action_url=reverse(action, args=[queue.pk]),
        cancel_url=_back(queue),
        queue=queue,
        selection=selection,
        selection_text=selection.describe(),
        hidden=_hidden(selection, preview),
        preview=preview,
        target=redrive_target(queue=queue),
        active_jobs=[j for j in jobs_for_target(account_id=queue.account_id, region=queue.region, resource_arn=queue.arn, limit=5) if j.is_active],
        form_error=error,
        rate=f"{settings.REDRIVE_RATE_PER_SECOND:g}",
        estimate_s=round(preview.count / settings.REDRIVE_RATE_PER_SECOND),
        too_long=preview.count / settings.REDRIVE_RATE_PER_SECOND > JOB_SOFT_TIME_LIMIT,
        run_limit_s=JOB_SOFT_TIME_LIMIT,
        **extra,
    )
    return render(request, template, context, status=status)


def _acted(request: HttpRequest, outcome) -> HttpResponse:
    (messages.success if outcome.created else messages.info)(request, outcome.message)
    return redirect("job", pk=outcome.job.pk)


def _selection_action(request: HttpRequest, queue: Queue, *, template: str, action: str, form_class, act,
                      **page_extra) -> HttpResponse:
    """A confirm page over a selection of the queue's messages, and its POST:
    1. GET: read the selection from the query (a bad value → the refusal page, no form) and
       render the preview;
    2. POST: validate the form (a bad selection → the refusal page; any other bad field → the
       page again with the error), then ``act(form)`` requests the job;
    3. a refusal from the request (a search the database cannot run, a busy target) is shown
       the same way; success lands on the job page."""
    if request.method != "POST":
        try:
            selection = selection_from(request.GET)
        except params.ParamError as err:
            return _refused(request, queue, str(err))
        return _page(request, queue, template, action, selection=selection, **page_extra)
    form = form_class(request.POST)
    if not form.is_valid():
        if form.selection_error:
            return _refused(request, queue, form.selection_error)
        return _page(request, queue, template, action, selection=form.selection, status=400, error=form.first_error(),
                     **page_extra)
    try:
        outcome = act(form)
    except RedriveSelectionError as err:
        return _refused(request, queue, f"json_path: {err}")
    except JobRequestError as err:
        return _page(request, queue, template, action, selection=form.selection, status=400, error=str(err),
                     **page_extra)
    return _acted(request, outcome)


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
@params.cleans_query
def dlq_redrive(request: HttpRequest, pk: int) -> HttpResponse:
    queue = _queue_or_404(pk)

    def act(form):
        return dlq_redrive_request(
            queue=queue, selection=form.selection, user=request.user, idempotency_key=form.cleaned_data["idempotency_key"],
            use_move=form.cleaned_data.get("method") == "move", velocity=form.cleaned_data.get("velocity"),
        )

    return _selection_action(request, queue, template="dashboard/redrive/confirm_redrive.html", action="dlq-redrive",
                             form_class=RedriveForm, act=act, default_velocity=100)


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
@params.cleans_query
def dlq_delete(request: HttpRequest, pk: int) -> HttpResponse:
    queue = _queue_or_404(pk)

    def act(form):
        return dlq_delete_request(queue=queue, selection=form.selection, confirm_name=form.cleaned_data["confirm_name"],
                                  user=request.user, idempotency_key=form.cleaned_data["idempotency_key"])

    return _selection_action(request, queue, template="dashboard/redrive/confirm_delete.html", action="dlq-delete",
                             form_class=TypedConfirmForm, act=act)


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
@params.cleans_query
def dlq_purge(request: HttpRequest, pk: int) -> HttpResponse:
    queue = _queue_or_404(pk)
    template = "dashboard/redrive/confirm_purge.html"
    everything = RedriveSelection()
    if request.method != "POST":
        return _page(request, queue, template, "dlq-purge", selection=everything)
    form = TypedConfirmForm(request.POST)
    if not form.is_valid():
        return _page(request, queue, template, "dlq-purge", selection=everything, status=400, error=form.first_error())
    try:
        outcome = dlq_purge_request(queue=queue, confirm_name=form.cleaned_data["confirm_name"], user=request.user,
                                    idempotency_key=form.cleaned_data["idempotency_key"])
    except JobRequestError as err:
        return _page(request, queue, template, "dlq-purge", selection=everything, status=400, error=str(err))
    return _acted(request, outcome)


# -- the job page's panel for the loop kinds --------------------------------------------------------

STATE_ORDER = (RedriveItemState.REDRIVEN, RedriveItemState.FAILED, RedriveItemState.LEFT, RedriveItemState.PENDING,
               RedriveItemState.DELIVERED)


def _panel(job: Job) -> dict:
    counts = redrive_item_counts(job=job)
    delete = job.kind == JobKind.DLQ_DELETE
    labels = {
        RedriveItemState.REDRIVEN: "deleted" if delete else "redriven (re-delivered, then deleted from the DLQ)",
        RedriveItemState.FAILED: "failed (still in the DLQ)",
        RedriveItemState.LEFT: "left in the DLQ",
        RedriveItemState.PENDING: "waiting",
        RedriveItemState.DELIVERED: "re-delivered, DLQ copy not yet deleted",
    }
    target = (job.parameters or {}).get("target") or {}
    return {
        "redrive_counts": [(state, labels[state], counts[state]) for state in STATE_ORDER],
        "redrive_unfinished": redrive_items_unfinished(job=job),
        "redrive_total": sum(counts.values()),
        "redrive_delete": delete,
        "redrive_target": target,
        "redrive_frozen": ((job.parameters or {}).get("selection") or {}).get("upto") is not None,
    }


def _move_panel(job: Job) -> dict:
    return {"velocity": (job.parameters or {}).get("velocity"), "source": (job.parameters or {}).get("source", "")}


job_panel_register(kind=JobKind.DLQ_REDRIVE, template="dashboard/redrive/_job_panel.html", context=_panel)
job_panel_register(kind=JobKind.DLQ_DELETE, template="dashboard/redrive/_job_panel.html", context=_panel)
job_panel_register(kind=JobKind.DLQ_MOVE, template="dashboard/redrive/_move_panel.html", context=_move_panel)
