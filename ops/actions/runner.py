"""The job runner: how a job is asked for, claimed, run, heartbeaten, finished and cancelled.

Every state change is a conditional UPDATE whose row count says who won (STYLE.md rule 8):

- request: INSERT under a unique idempotency key and the one-active-per-target partial unique
  constraint; losing either race returns the job that won, with a message saying why;
- claim: pending → running only WHERE status = 'pending'; the claim bumps ``attempts``, which
  then fences every later write of this worker (WHERE status = 'running' AND attempts = n),
  so a worker the sweeper gave up on cannot finish a job twice;
- finish: running → succeeded | failed | cancelled, fenced the same way;
- cancel: pending → cancelled at once; a running job gets ``cancel_requested_at`` and stops at
  its next checkpoint (``JobContext.check``).

A run (``job_run``):
1. look the kind up in the registry; claim the job (0 rows: someone else has it, or it was
   cancelled or finished — do nothing);
2. start a heartbeat thread that touches ``heartbeat_at`` every JOB_HEARTBEAT_SECONDS (a
   worker killed mid-job stops beating, and ops.actions.sweeper notices);
3. call the kind's work with a JobContext (log, progress, check);
4. record the outcome and write the audit log (requested was written at request time).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Callable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from ops.models import JOB_ACTIVE, Account, AuditResult, Job, JobLogEntry, JobLogLevel, JobStatus
from ops.services.audit import audit_record

log = logging.getLogger(__name__)

# How long one run of a job may take (the actions task's Celery limits): long enough for a
# large redrive; a job that needs longer should checkpoint and resume.
JOB_SOFT_TIME_LIMIT = 1800
JOB_TIME_LIMIT = 1860


class JobFailed(Exception):
    """The work failed for a reason worth showing the operator as is."""


class JobCancelled(Exception):
    """An operator asked the running job to stop; raised at a checkpoint."""


class JobLost(Exception):
    """This worker no longer owns the job (the sweeper failed or resumed it meanwhile)."""


@dataclass(frozen=True)
class JobKindSpec:
    kind: str
    work: Callable[["JobContext"], dict | None]
    # Resumable work may be started again after a lost worker: it is idempotent, or it skips
    # what its progress counters say is done. Anything else is failed by the sweeper instead.
    resumable: bool
    label: str


_KINDS: dict[str, JobKindSpec] = {}


def job_kind_register(*, kind: str, work: Callable[["JobContext"], dict | None], resumable: bool, label: str = "") -> None:
    _KINDS[kind] = JobKindSpec(kind=kind, work=work, resumable=resumable, label=label or kind)


def job_kind_spec(*, kind: str) -> JobKindSpec | None:
    if not _KINDS or kind not in _KINDS:
        import ops.actions.kinds  # noqa: F401 - registers the product's kinds on first use

    return _KINDS.get(kind)


def _label(kind: str) -> str:
    spec = job_kind_spec(kind=kind)
    return spec.label if spec else kind


@dataclass(frozen=True)
class JobRequestResult:
    job: Job
    created: bool
    message: str


class JobRequestError(ValueError):
    """A request that cannot become a job (unknown account, a region it does not have, …)."""


def _enqueue(job_id: int) -> None:
    from ops.tasks.actions import job_run as job_run_task

    Job.objects.filter(pk=job_id, status=JobStatus.PENDING).update(enqueued_at=timezone.now())
    job_run_task.delay(job_id)


def job_enqueue(*, job: Job) -> None:
    """Send the job to the actions queue once the transaction that made it commits.

    Robust: with the broker down the request still answers (the job is saved), and the
    sweeper sends the pending job again later."""
    transaction.on_commit(lambda: _enqueue(job.pk), robust=True)


def _same_request(job: Job, *, kind: str, account: Account, region: str, resource_arn: str) -> JobRequestResult:
    """The job an earlier request with this key made; a key reused for another target is refused."""
    if (job.kind, job.account_id, job.region, job.resource_arn) != (kind, account.pk, region, resource_arn):
        raise JobRequestError("This request's key was already used for a different request; reload the page and try again.")
    return JobRequestResult(job, False, f"Already requested: job #{job.pk} is {job.status}.")


def job_request(
    *,
    kind: str,
    account: Account,
    region: str,
    user,
    resource_arn: str = "",
    target_label: str = "",
    parameters: dict | None = None,
    idempotency_key: str = "",
) -> JobRequestResult:
    """Create a job (or find the one this request already made, or the target's active one).

    1. a job with this idempotency key exists: return it (a double POST makes one job);
    2. INSERT in a savepoint; the unique key or the one-active-per-target constraint may refuse;
    3. refused: return the job that holds the key, else the target's active job, with a message;
    4. created: audit "requested" and enqueue after commit.
    """
    spec = job_kind_spec(kind=kind)
    if spec is None:
        raise JobRequestError(f"unknown job kind {kind!r}")
    key = idempotency_key or uuid.uuid4().hex
    existing = Job.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _same_request(existing, kind=kind, account=account, region=region, resource_arn=resource_arn)
    actor = user if getattr(user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                account=account,
                region=region,
                resource_arn=resource_arn,
                target_label=target_label,
                actor=actor,
                actor_name=actor.get_username() if actor else str(user or "system"),
                parameters=parameters or {},
                idempotency_key=key,
            )
    except IntegrityError:
        same_key = Job.objects.filter(idempotency_key=key).first()
        if same_key is not None:
            return _same_request(same_key, kind=kind, account=account, region=region, resource_arn=resource_arn)
        active = Job.objects.filter(account=account, region=region, resource_arn=resource_arn, status__in=JOB_ACTIVE).first()
        if active is None:  # it finished between our INSERT and this read; the caller may retry
            raise JobRequestError(f"{target_label or resource_arn or region} was busy; try again.") from None
        return JobRequestResult(
            active,
            False,
            f"{_label(active.kind)} of {active.target_label or active.resource_arn} is already "
            f"{active.status} (job #{active.pk}, asked for by {active.actor_name}); not started twice.",
        )
    job_log_write(job.pk, f"requested by {job.actor_name}", data={"parameters": job.parameters})
    audit_record(
        actor=user,
        action=kind,
        target_type="resource" if resource_arn else "account",
        target_id=resource_arn or account.account_id,
        target_label=target_label,
        parameters={**job.parameters, "job": job.pk, "region": region},
        result=AuditResult.REQUESTED,
    )
    job_enqueue(job=job)
    return JobRequestResult(job, True, f"{spec.label} of {target_label or resource_arn} queued (job #{job.pk}).")


def job_claim(*, job_id: int) -> int | None:
    """pending → running. Returns the attempt number this worker now owns, or None."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
    )
    if claimed != 1:
        return None
    return Job.objects.values_list("attempts", flat=True).get(pk=job_id)


def _owned(job_id: int, attempt: int):
    return Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)


def job_log_write(job_id: int, message: str, *, level: str = JobLogLevel.INFO, data: dict | None = None) -> None:
    JobLogEntry.objects.create(job_id=job_id, level=level, message=message[:4000], data=data or {})


class JobContext:
    """What a kind's work sees: its job, and the only ways it writes to it."""

    def __init__(self, job: Job, attempt: int) -> None:
        self.job = job
        self.attempt = attempt

    def log(self, message: str, *, level: str = JobLogLevel.INFO, **data) -> None:
        job_log_write(self.job.pk, message, level=level, data=data)

    def progress(self, *, done: int | None = None, total: int | None = None, failed: int | None = None) -> None:
        """Set the counters (absolute values). Raises JobLost when this worker no longer owns the job.

        Call it inside the transaction that does the counted work, so a worker killed between
        the two leaves neither: a resumed run then redoes exactly the items not counted.
        """
        fields: dict = {"heartbeat_at": timezone.now()}
        for name, value in (("progress_done", done), ("progress_total", total), ("progress_failed", failed)):
            if value is not None:
                fields[name] = value
                setattr(self.job, name, value)
        if _owned(self.job.pk, self.attempt).update(**fields) != 1:
            raise JobLost(f"job #{self.job.pk} attempt {self.attempt} is no longer this worker's")

    def check(self) -> None:
        """A checkpoint: stop if an operator cancelled the job or this worker lost it."""
        row = Job.objects.filter(pk=self.job.pk).values("status", "attempts", "cancel_requested_at").first()
        if row is None or row["status"] != JobStatus.RUNNING or row["attempts"] != self.attempt:
            raise JobLost(f"job #{self.job.pk} attempt {self.attempt} is no longer this worker's")
        if row["cancel_requested_at"] is not None:
            raise JobCancelled()


class _Heartbeat(threading.Thread):
    """Touches heartbeat_at while the work runs, on its own database connection."""

    def __init__(self, job_id: int, attempt: int, every_s: float) -> None:
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.job_id, self.attempt, self.every_s = job_id, attempt, every_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.every_s):
                if _owned(self.job_id, self.attempt).update(heartbeat_at=timezone.now()) != 1:
                    return  # finished, or taken over by the sweeper: nothing left to keep alive
        except Exception:  # noqa: BLE001 - a missed beat is the sweeper's business, not a crash
            log.exception("heartbeat of job #%s failed", self.job_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.every_s + 5)


def _finish(job: Job, attempt: int, status: str, *, result: dict | None = None, error: str = "") -> bool:
    done = _owned(job.pk, attempt).update(status=status, result=result, error=error[:4000], finished_at=timezone.now())
    return done == 1


def job_audit_outcome(job: Job, result: str, message: str) -> None:
    audit_record(
        actor=job.actor or job.actor_name,
        action=job.kind,
        target_type="resource" if job.resource_arn else "account",
        target_id=job.resource_arn or job.account.account_id,
        target_label=job.target_label,
        parameters={**job.parameters, "job": job.pk, "region": job.region},
        result=result,
        message=message,
    )


def job_run(*, job_id: int) -> str | None:
    """Run one job to its end (see the module docstring's steps). Returns the final status it wrote."""
    job = Job.objects.select_related("account", "actor").filter(pk=job_id).first()
    if job is None:
        return None
    spec = job_kind_spec(kind=job.kind)
    attempt = job_claim(job_id=job_id)
    if attempt is None:
        log.info("job #%s not claimed (it is %s)", job_id, Job.objects.values_list("status", flat=True).get(pk=job_id))
        return None
    job.refresh_from_db()
    if spec is None:
        _finish(job, attempt, JobStatus.FAILED, error=f"no worker code for job kind {job.kind!r}")
        job_audit_outcome(job, AuditResult.FAILED, f"no worker code for job kind {job.kind!r}")
        return JobStatus.FAILED
    job_log_write(job.pk, f"started (attempt {attempt})" + (f", resuming after {job.progress_done} done" if attempt > 1 else ""))
    beat = _Heartbeat(job.pk, attempt, settings.JOB_HEARTBEAT_SECONDS)
    beat.start()
    try:
        result = spec.work(JobContext(job, attempt))
    except JobLost as lost:
        log.warning("%s; leaving it to whoever owns it now", lost)
        return None
    except JobCancelled:
        status, message, result = JobStatus.CANCELLED, "cancelled by an operator while running", None
    except JobFailed as failed:
        status, message, result = JobStatus.FAILED, str(failed), None
    except Exception as exc:  # noqa: BLE001 - a job never crashes the worker; the page says why
        log.exception("job #%s %s failed", job.pk, job.kind)
        status, message, result = JobStatus.FAILED, f"{type(exc).__name__}: {exc}", None
    else:
        status, message = JobStatus.SUCCEEDED, ""
    finally:
        beat.stop()
    if not _finish(job, attempt, status, result=result, error=message):
        log.warning("job #%s attempt %s lost ownership before it could record %s", job.pk, attempt, status)
        return None
    job_log_write(
        job.pk,
        status if not message else f"{status}: {message}",
        level=JobLogLevel.INFO if status == JobStatus.SUCCEEDED else JobLogLevel.ERROR,
    )
    job_audit_outcome(job, AuditResult.SUCCEEDED if status == JobStatus.SUCCEEDED else AuditResult.FAILED, message)
    return status


def job_cancel(*, job: Job, user) -> str:
    """Cancel a pending job now, or ask a running one to stop. Returns what happened, for the operator."""
    name = user.get_username() if getattr(user, "is_authenticated", False) else str(user or "system")
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED, finished_at=now, cancel_requested_at=now, error=f"cancelled by {name}"
    ):
        job_log_write(job.pk, f"cancelled by {name} before it started")
        job.refresh_from_db()
        job_audit_outcome(job, AuditResult.FAILED, f"cancelled by {name} before it started")
        return f"Job #{job.pk} cancelled."
    if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now
    ):
        job_log_write(job.pk, f"cancel requested by {name}")
        return f"Job #{job.pk} will stop at its next step."
    job.refresh_from_db()
    return f"Job #{job.pk} is already {job.status}; nothing to cancel."
