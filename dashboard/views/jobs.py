"""A job's page (lifecycle, progress, log, the kind's own panel), its live partial, and cancel."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.job_panels import job_panel
from dashboard.permissions import operator_required
from ops.actions.runner import job_cancel as job_cancel_service
from ops.actions.runner import job_kind_spec
from ops.models import Job
from ops.selectors.jobs import job_get, job_log

# While a job is active its page re-reads the progress partial this often (seconds).
JOB_REFRESH_S = 2


def _job_or_404(pk: int) -> Job:
    job = job_get(pk=pk)
    if job is None:
        raise Http404("No such job")
    return job


def _context(job: Job) -> dict:
    spec = job_kind_spec(kind=job.kind)
    panel = job_panel(job=job)
    return {
        "job": job,
        "kind_label": spec.label if spec else job.get_kind_display(),
        "log_entries": job_log(job=job),
        "panel_template": panel[0] if panel else None,
        "panel": panel[1] if panel else {},
        "refresh_s": JOB_REFRESH_S,
    }


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "dashboard/job.html", _context(_job_or_404(pk)))


@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the job page; htmx re-reads it while the job is active."""
    return render(request, "dashboard/partials/_job_progress.html", _context(_job_or_404(pk)))


@require_POST
@operator_required
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    messages.info(request, job_cancel_service(job=job, user=request.user))
    return redirect("job", pk=job.pk)
