"""Alias moves and emergency controls: what a confirm page shows (preflight) and the job a
confirmed POST asks for (request). The work itself is in ops.actions.rollback and
ops.actions.controls; this module decides targets and refuses what cannot be offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ops.actions.runner import JobRequestResult, job_request
from ops.aws import lambda_actions
from ops.aws.errors import AwsError
from ops.aws.lambda_ import AliasInfo
from ops.models import Alias, AliasChange, EventSourceMapping, Function, FunctionVersion, JobKind
from ops.pollers.base import account_scope
from ops.selectors.deploys import (
    VersionComparison,
    alias_previous_version,
    last_throttle,
    routing_label,
    version_compare,
)
from ops.selectors.headroom import account_concurrency_limit

ALIAS_KINDS = (JobKind.ALIAS_ROLLBACK, JobKind.CANARY_FINISH, JobKind.CANARY_ABORT)
CONCURRENCY_KINDS = (JobKind.FUNCTION_THROTTLE, JobKind.FUNCTION_UNTHROTTLE, JobKind.FUNCTION_CONCURRENCY)


class ActionRefused(ValueError):
    """A request that cannot become a job, with the reason the operator sees."""


@dataclass
class AliasPreflight:
    kind: str
    alias: Alias
    function: Function
    current_version: str
    current_weights: dict
    revision_id: str
    live: bool  # the state above was read from Lambda just now (else: the inventory's copy)
    target_version: str = ""
    target_weights: dict = field(default_factory=dict)
    target_from: str = ""  # why this target: "history", "operator", "canary"
    deploy: AliasChange | None = None  # the move that made the current state
    comparison: VersionComparison | None = None
    versions: list[FunctionVersion] = field(default_factory=list)  # what the operator may pick
    warnings: list[str] = field(default_factory=list)
    refusal: str = ""

    @property
    def current_label(self) -> str:
        return routing_label(self.current_version, self.current_weights)

    @property
    def target_label(self) -> str:
        return routing_label(self.target_version, self.target_weights)

    @property
    def job_label(self) -> str:
        return f"{self.function.name}:{self.alias.name} → v{self.target_version}"


def _live_alias(alias: Alias) -> tuple[AliasInfo | None, str]:
    try:
        return lambda_actions.alias_get(account_scope(alias.function.account, alias.function.region),
                                        function=alias.function.name, alias=alias.name), ""
    except AwsError as err:
        return None, f"could not read {alias.name} from Lambda ({err.code}); showing the inventory's copy from {alias.last_seen:%H:%M} UTC"


def _trigger_warnings(alias: Alias) -> list[str]:
    """Event sources and permissions that invoke another qualifier: a rollback of this alias does
    not change what they run."""
    fn = alias.function
    try:
        triggers = lambda_actions.function_triggers(account_scope(fn.account, fn.region), function=fn.name)
    except AwsError as err:
        return [f"could not list event sources and permissions ({err.code}): check what invokes $LATEST yourself"]
    out = []
    for t in triggers:
        if t.qualifier == alias.name or (t.kind == "permission" and t.qualifier == "*"):
            continue
        target = "$LATEST (the unqualified function)" if t.qualifier in ("", "$LATEST") else (
            f"version {t.qualifier}" if t.qualifier.isdigit() else f"alias {t.qualifier}")
        out.append(f"{t.kind} {t.source or '(unnamed)'} invokes {target}, not {alias.name}: this action does not change what it runs")
    return out


def _version_known(function: Function, version: str) -> FunctionVersion | None:
    return FunctionVersion.objects.filter(function=function, version=version, gone_at=None).first()


def alias_preflight(*, alias: Alias, kind: str, to_version: str = "", read_live: bool = True) -> AliasPreflight:
    """What the confirm page of a rollback / canary finish / canary abort shows.

    1. the alias as Lambda has it now (GetAlias; the inventory's copy if that fails) and its
       RevisionId, which the POST carries and the job's UpdateAlias is guarded by;
    2. the target: for a rollback the version the alias pointed to before (its history) or the
       operator's pick; for a canary finish the weighted version, for an abort the primary;
    3. both versions' numbers before and after the deploy that made the current state;
    4. warnings: event sources or permissions on $LATEST or another alias; refusals."""
    fn = alias.function
    info, problem = _live_alias(alias) if read_live else (None, "")
    pf = AliasPreflight(
        kind=kind, alias=alias, function=fn, live=info is not None,
        current_version=info.version if info else alias.version,
        current_weights=dict(info.weights if info else alias.weights or {}),
        revision_id=info.revision_id if info else alias.revision_id,
    )
    if problem:
        pf.warnings.append(problem)
    if read_live and info is None and not problem:
        pf.refusal = f"alias {alias.name} no longer exists in Lambda (deleted)"
        return pf
    pf.versions = sorted((v for v in fn.versions.all() if v.gone_at is None), key=lambda v: -v.number)
    previous, move = alias_previous_version(alias=alias) if pf.current_version == alias.version else ("", None)
    pf.deploy = move or AliasChange.objects.filter(alias=alias).order_by("-at").first()
    if kind == JobKind.ALIAS_ROLLBACK:
        if to_version:
            pf.target_version, pf.target_from = to_version, "operator"
        elif previous:
            pf.target_version, pf.target_from = previous, "history"
        else:
            pf.refusal = ("the alias history does not say which version it pointed to before; "
                          "pick the version to roll back to")
    elif not pf.current_weights:
        pf.refusal = f"{alias.name} has no weighted routing: there is no canary to {'finish' if kind == JobKind.CANARY_FINISH else 'abort'}"
    elif kind == JobKind.CANARY_FINISH:
        pf.target_version, pf.target_from = max(pf.current_weights, key=lambda v: pf.current_weights[v]), "canary"
    else:
        pf.target_version, pf.target_from = pf.current_version, "canary"
    if pf.target_version and not pf.refusal:
        if _version_known(fn, pf.target_version) is None:
            pf.refusal = f"version {pf.target_version} is not a published version of {fn.name} (deleted, or never published)"
        elif pf.target_version == pf.current_version and not pf.current_weights:
            pf.refusal = f"{alias.name} already points to v{pf.target_version} with no weighted routing"
    shown = list(dict.fromkeys(v for v in (pf.current_version, *pf.current_weights, pf.target_version) if v))
    pf.comparison = version_compare(function=fn, versions=shown, deploy_at=pf.deploy.at if pf.deploy else None)
    if info is not None and not pf.refusal:  # Lambda answered: worth asking what invokes what
        pf.warnings.extend(_trigger_warnings(alias))
    return pf


def alias_action_request(
    *, kind: str, alias: Alias, user, to_version: str, revision_id: str, idempotency_key: str
) -> JobRequestResult:
    """Ask for a rollback / canary move to ``to_version`` (weighted routing cleared), guarded by
    the RevisionId the confirm page showed. The inventory's copy is only a fallback for what the
    alias was: the job reads the live state before it acts."""
    if kind not in ALIAS_KINDS:
        raise ActionRefused(f"not an alias action: {kind}")
    fn = alias.function
    if alias.gone_at is not None:
        raise ActionRefused(f"alias {alias.name} is gone from Lambda (seen deleted at {alias.gone_at:%H:%M} UTC)")
    if _version_known(fn, to_version) is None:
        raise ActionRefused(f"version {to_version} is not a published version of {fn.name}")
    if not revision_id:
        raise ActionRefused("the confirm page carried no RevisionId; reload it")
    return job_request(
        kind=kind,
        account=fn.account,
        region=fn.region,
        user=user,
        resource_arn=alias.arn,
        target_label=f"{fn.name}:{alias.name} → v{to_version}",
        parameters={
            "alias_id": alias.pk, "function": fn.name, "alias": alias.name, "to_version": to_version, "to_weights": {},
            "revision_id": revision_id, "from_version": alias.version, "from_weights": alias.weights or {},
        },
        idempotency_key=idempotency_key,
    )


@dataclass
class ControlPreflight:
    kind: str
    function: Function
    current: int | None  # reserved concurrency now (inventory), None = unreserved
    goal: int | None
    effect: str
    refusal: str = ""
    limit: int = 0

    @property
    def current_label(self) -> str:
        return "unreserved" if self.current is None else str(self.current)

    @property
    def goal_label(self) -> str:
        return "unreserved" if self.goal is None else str(self.goal)


def concurrency_preflight(*, function: Function, kind: str, reserved: int | None = None) -> ControlPreflight:
    """The confirm page of throttle / undo throttle / set reserved concurrency, from the inventory
    (the job checks the live value against ``current`` before it writes)."""
    limit = account_concurrency_limit()
    current = function.reserved_concurrency
    pf = ControlPreflight(kind=kind, function=function, current=current, goal=None, effect="", limit=limit)
    name = function.name
    if kind == JobKind.FUNCTION_THROTTLE:
        pf.goal = 0
        pf.effect = (f"All invocations of {name} will be throttled (reserved concurrency 0): synchronous callers get "
                     "429 TooManyRequestsException, asynchronous events are kept and retried by Lambda for up to 6 h, "
                     "queue and stream event sources stop being consumed (their messages wait).")
        if current == 0:
            pf.refusal = f"{name} is already throttled (reserved concurrency 0)"
    elif kind == JobKind.FUNCTION_UNTHROTTLE:
        throttle = last_throttle(function=function)
        pf.goal = (throttle.result or {}).get("previous_reserved") if throttle else None
        pf.effect = (f"{name} will accept invocations again: reserved concurrency {pf.goal_label}"
                     + (" (it shares the account's unreserved pool)" if pf.goal is None else "")
                     + (f", as it was before the throttle of {throttle.finished_at:%Y-%m-%d %H:%M} UTC (job #{throttle.pk})" if throttle else "")
                     + ".")
        if current != 0:
            pf.refusal = f"{name} is not throttled (reserved concurrency {pf.current_label})"
    else:
        pf.goal = reserved
        if reserved is None:
            pf.refusal = "give the reserved concurrency to set"
        elif not 0 <= reserved <= limit:
            pf.refusal = f"reserved concurrency must be between 0 and the account limit {limit}"
        elif reserved == current:
            pf.refusal = f"reserved concurrency is already {reserved}"
        pf.effect = (f"At most {reserved} concurrent executions of {name}; invocations beyond that are throttled. "
                     f"They are reserved out of the account's {limit}, so other functions can use {reserved} fewer."
                     if reserved else f"All invocations of {name} will be throttled (reserved concurrency 0).")
    return pf


def concurrency_request(*, function: Function, kind: str, user, reserved: int | None, expected: int | None,
                        idempotency_key: str) -> JobRequestResult:
    pf = concurrency_preflight(function=function, kind=kind, reserved=reserved)
    if pf.refusal:
        raise ActionRefused(pf.refusal)
    if expected != pf.current:
        raise ActionRefused(f"reserved concurrency is now {pf.current_label}, not what the page showed; reload it")
    return job_request(
        kind=kind, account=function.account, region=function.region, user=user, resource_arn=function.arn,
        target_label=f"{function.name}: reserved {pf.current_label} → {pf.goal_label}",
        parameters={"function": function.name, "reserved": pf.goal, "expected": expected},
        idempotency_key=idempotency_key,
    )


@dataclass
class EsmPreflight:
    esm: EventSourceMapping
    enable: bool
    effect: str
    refusal: str = ""


def esm_target_arn(esm: EventSourceMapping) -> str:
    """Under the function's ARN, so the function's timeline lists the job (jobs_for_function)
    and one toggle per mapping runs at a time."""
    return f"{esm.function.arn}:event-source-mapping:{esm.uuid}"


def esm_preflight(*, esm: EventSourceMapping) -> EsmPreflight:
    enabled = esm.state in ("Enabled", "Enabling", "Updating", "Creating")
    source = esm.source_arn.rsplit(":", 1)[-1]
    if enabled:
        effect = (f"Lambda stops reading {source} for {esm.function.name}: its messages stay in the source "
                  "(retention keeps counting), nothing is deleted or re-driven; enable it again to resume.")
    else:
        effect = f"Lambda resumes reading {source} for {esm.function.name}" + (
            f" in batches of up to {esm.batch_size}" if esm.batch_size else "") + "."
    pf = EsmPreflight(esm=esm, enable=not enabled, effect=effect)
    if esm.gone_at is not None:
        pf.refusal = "this event source mapping is gone from Lambda"
    return pf


def esm_toggle_request(*, esm: EventSourceMapping, user, enable: bool, idempotency_key: str) -> JobRequestResult:
    pf = esm_preflight(esm=esm)
    if pf.refusal:
        raise ActionRefused(pf.refusal)
    if pf.enable != enable:
        raise ActionRefused(f"the mapping is {esm.state} now, not what the page showed; reload it")
    fn = esm.function
    return job_request(
        kind=JobKind.ESM_ENABLE if enable else JobKind.ESM_DISABLE, account=fn.account, region=fn.region, user=user,
        resource_arn=esm_target_arn(esm),
        target_label=f"{fn.name} ← {esm.source_arn.rsplit(':', 1)[-1]} ({'enable' if enable else 'disable'})",
        parameters={"uuid": esm.uuid, "function": fn.name, "source": esm.source_arn, "expected_state": esm.state},
        idempotency_key=idempotency_key,
    )
