"""Reads of jobs: the status page's recent jobs of a kind, a target's (a function's) jobs."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ops.models import Function, Job, Queue


def jobs_recent(*, kind: str, limit: int = 10) -> list[Job]:
    """The last ``limit`` jobs of one kind, newest first, with their account and actor (one query)."""
    return list(Job.objects.filter(kind=kind).select_related("account").order_by("-created_at", "-id")[:limit])


def jobs_for_target(*, account_id: int, region: str, resource_arn: str = "", limit: int = 20) -> list[Job]:
    """One target's jobs, newest first: exactly that account×region (and resource ARN)."""
    qs = Job.objects.filter(account_id=account_id, region=region, resource_arn=resource_arn)
    return list(qs.select_related("account").order_by("-created_at", "-id")[:limit])


def jobs_for_function(*, function: Function, limit: int = 20) -> list[Job]:
    """A function's timeline of jobs: on the function itself, on anything under its ARN
    (its aliases and versions, ``arn:…:function:name:live``), or on one of its queues (a DLQ
    redrive, delete or purge), newest first; still one query (the queues are a subquery)."""
    queue_arns = Queue.objects.filter(function_links__function=function).values("arn")
    qs: QuerySet[Job] = Job.objects.filter(
        Q(resource_arn=function.arn) | Q(resource_arn__startswith=f"{function.arn}:") | Q(resource_arn__in=queue_arns)
    )
    return list(qs.select_related("account").order_by("-created_at", "-id")[:limit])


def job_get(*, pk: int) -> Job | None:
    """One job with its account and actor (one query), or None."""
    return Job.objects.select_related("account", "actor").filter(pk=pk).first()


def job_log(*, job: Job, limit: int = 200) -> list:
    """A job's log in the order it was written; the last ``limit`` steps when it is longer."""
    entries = list(job.log_entries.order_by("-id")[:limit])
    entries.reverse()
    return entries
