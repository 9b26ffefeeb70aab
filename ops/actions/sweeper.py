"""The sweeper: what happens to a job whose worker disappeared.

A worker killed mid-job (OOM, SIGKILL, a host gone) leaves its job running with a heartbeat
that no longer moves. Each sweep:
1. finds running jobs whose heartbeat is older than ``stale_after_s``;
2. a job an operator asked to cancel is cancelled (its worker is gone, so nothing is left to
   stop at a checkpoint); otherwise resumable kinds with attempts left go back to pending (claimed by conditional UPDATE on
   the very heartbeat and attempt it saw, so a worker that beat meanwhile keeps its job) and
   are re-enqueued; the next claim's attempt number fences the old worker out;
3. every other one is failed with a readable reason ("worker lost: no heartbeat for 64 s")
   and the failure is audited;
4. pending jobs whose task was sent more than ``stale_after_s`` ago are sent again: a task
   acknowledged early by a worker that died before claiming it is otherwise lost (the claim
   makes a duplicate message a no-op). While some job is running with a live heartbeat, a
   pending one is most likely queued behind it (the actions worker runs one job at a time), so
   it is sent again only once it has waited longer than a job may run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ops.actions.runner import JOB_TIME_LIMIT, job_audit_outcome, job_enqueue, job_kind_spec, job_log_write
from ops.models import AuditResult, Job, JobLogLevel, JobStatus


@dataclass
class SweepResult:
    resumed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def jobs_sweep(*, stale_after_s: int | None = None, max_attempts: int | None = None) -> SweepResult:
    stale_after_s = settings.JOB_STALE_SECONDS if stale_after_s is None else stale_after_s
    max_attempts = settings.JOB_MAX_ATTEMPTS if max_attempts is None else max_attempts
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_s)
    out = SweepResult()
    stale = Job.objects.select_related("account", "actor").filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
    for job in stale:
        silent_s = round((now - job.heartbeat_at).total_seconds())
        reason = f"worker lost: no heartbeat for {silent_s} s"
        seen = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts, heartbeat_at=job.heartbeat_at)
        spec = job_kind_spec(kind=job.kind)
        with transaction.atomic():
            if job.cancel_requested_at is not None:
                message = f"{reason}; it had been asked to stop, so it is cancelled, not resumed"
                if seen.update(status=JobStatus.CANCELLED, error=message, finished_at=now) == 1:
                    job_log_write(job.pk, message, level=JobLogLevel.WARNING)
                    job_audit_outcome(job, AuditResult.FAILED, message)
                    out.cancelled.append(job.pk)
                continue
            if spec is not None and spec.resumable and job.attempts < max_attempts:
                if seen.update(status=JobStatus.PENDING) == 1:
                    job_log_write(
                        job.pk,
                        f"{reason}; resumed (attempt {job.attempts + 1} of {max_attempts} next)",
                        level=JobLogLevel.WARNING,
                    )
                    job_enqueue(job=job)
                    out.resumed.append(job.pk)
                continue
            if spec is not None and spec.resumable:
                reason += f" (after {job.attempts} attempts)"
            if seen.update(status=JobStatus.FAILED, error=reason, finished_at=now) == 1:
                job_log_write(job.pk, reason, level=JobLogLevel.ERROR)
                job_audit_outcome(job, AuditResult.FAILED, reason)
                out.failed.append(job.pk)
    busy = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__gte=cutoff).exists()
    sent_before = now - timedelta(seconds=JOB_TIME_LIMIT) if busy else cutoff
    lost_tasks = Job.objects.filter(status=JobStatus.PENDING).filter(
        Q(enqueued_at__lt=sent_before) | Q(enqueued_at__isnull=True, created_at__lt=sent_before)
    )
    for job in lost_tasks:
        with transaction.atomic():
            job_enqueue(job=job)
        out.requeued.append(job.pk)
    return out
