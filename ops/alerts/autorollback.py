"""Opt-in automatic rollback: a rule with ``auto_rollback_alias`` that fires within
``auto_rollback_minutes`` of a deploy of that alias asks for the actions issue's rollback job
(the same preflight, RevisionId guard and verification an operator's rollback gets).

Once per incident × alias: the job's idempotency key is made of both, and a refusal is written
once. Never for a move a rollback (or a canary finish/abort) made: rolling back a rollback
would put the bad version back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from ops.actions.runner import JobRequestError
from ops.models import AliasChangeSource, JobKind
from ops.models.alerts import AlertFlip, Incident, IncidentEvent
from ops.models.choices import IncidentEventKind
from ops.selectors.deploys import alias_last_move
from ops.services.actions import ActionRefused, alias_action_request, alias_preflight

# A deploy stamped this long after the firing window ended still counts: the inventory dates a
# move to when it saw it, and a bad build's first failures can land before that.
DEPLOY_SLACK = timedelta(minutes=2)
MADE_BY_US = (AliasChangeSource.ROLLBACK, AliasChangeSource.CANARY)


def auto_rollback_actor(rule_name: str) -> str:
    return f"Lambda Ops (auto-rollback: rule {rule_name})"[:150]


def auto_rollback_key(*, incident: Incident, alias_id: int) -> str:
    return f"auto-rollback:{incident.pk}:{alias_id}"


def auto_rollback_run(*, incident: Incident, flip: AlertFlip, now: datetime) -> IncidentEvent | None:
    """The rollback for one firing flip, when its rule opts in and the alias's last move is a
    deploy within the rule's minutes before the flip; the AUTO_ROLLBACK event (linked to the job,
    or with the refusal as its text), or None when nothing was due."""
    rule = flip.rule
    if rule is None or rule.auto_rollback_alias_id is None or flip.function_id is None:
        return None
    alias = rule.auto_rollback_alias
    # the alias must belong to the function that fires: a tag- or account-wide rule firing for
    # another function says nothing about this alias
    if alias.function_id != flip.function_id or alias.gone_at is not None:
        return None
    if IncidentEvent.objects.filter(incident=incident, kind=IncidentEventKind.AUTO_ROLLBACK,
                                    data__alias_id=alias.pk).exists():
        return None
    move = alias_last_move(alias=alias)
    if move is None or move.source in MADE_BY_US or move.job_id is not None:
        return None
    if move.source == AliasChangeSource.CREATED:
        return None  # the alias appearing is not a deploy
    window = timedelta(minutes=rule.auto_rollback_minutes)
    if not (flip.at - window <= move.at <= flip.at + DEPLOY_SLACK):
        return None
    actor = auto_rollback_actor(rule.name)
    minutes = max(0, round((flip.at - move.at).total_seconds() / 60))
    data = {"alias_id": alias.pk, "alias": alias.name, "rule_id": rule.pk, "rule_name": rule.name,
            "deploy_at": move.at.isoformat(), "from_version": move.from_version, "to_version": move.to_version}
    pf = alias_preflight(alias=alias, kind=JobKind.ALIAS_ROLLBACK)
    refusal = pf.refusal
    job = None
    if not refusal:
        try:
            result = alias_action_request(
                kind=JobKind.ALIAS_ROLLBACK, alias=alias, user=actor, to_version=pf.target_version,
                revision_id=pf.revision_id, idempotency_key=auto_rollback_key(incident=incident, alias_id=alias.pk),
            )
        except (ActionRefused, JobRequestError) as err:
            refusal = str(err)
        else:
            job = result.job
            if not result.created and job.idempotency_key != auto_rollback_key(incident=incident, alias_id=alias.pk):
                refusal = result.message  # the alias was already busy with someone else's job
                job = None
    if refusal:
        text = f"automatic rollback of {alias.name} not done: {refusal}"
    else:
        text = (f"rule {rule.name} fired {minutes} min after {alias.name} moved v{move.from_version} → "
                f"v{move.to_version}: rolling {alias.name} back to v{pf.target_version} (job #{job.pk})")
        data["target_version"] = pf.target_version
    try:
        with transaction.atomic():
            return IncidentEvent.objects.create(incident=incident, at=now, kind=IncidentEventKind.AUTO_ROLLBACK,
                                                text=text, actor_name=actor, rule=rule, job=job,
                                                data={**data, "refused": bool(refusal)})
    except IntegrityError:
        return None  # the job is linked already (the ACTION linker got there first, or a twin call)
