"""Reads of the permission check's verdicts: an account's table, the problems across accounts,
and the reason an action is shown disabled.

``permission_denied_reason(*, account, region, action)`` is what an action page calls before
drawing its button: ``action`` is an IAM action ("lambda:UpdateAlias") or a job kind
("alias.rollback", any JobKind value), and the answer is None (allowed, or not known to be
denied) or one line to show next to the disabled button. One query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ops.aws.permissions import BY_KEY, actions_for_kind, checked_actions, features_of
from ops.models import Account, PermissionCheck, PermissionState


@dataclass(frozen=True)
class Need:
    feature: str
    without: str
    policy: str
    pending: str


@dataclass(frozen=True)
class PermissionRow:
    action: str
    policy: str
    state: str  # PermissionState, or NOT_CHECKED when no check has run
    code: str
    message: str
    checked_at: datetime | None
    needs: tuple[Need, ...]

    @property
    def state_label(self) -> str:
        return PermissionState(self.state).label

    @property
    def badge(self) -> str:
        return {PermissionState.GRANTED: "ok", PermissionState.DENIED: "bad"}.get(self.state, "warn")


def _needs(action: str) -> tuple[Need, ...]:
    return tuple(Need(p.feature, p.without, p.policy, p.pending) for p in features_of(action))


def _rows(found: dict[str, PermissionCheck]) -> list[PermissionRow]:
    rows = []
    for p in checked_actions():
        c = found.get(p.action)
        rows.append(PermissionRow(
            action=p.action, policy=p.policy,
            state=c.state if c else PermissionState.NOT_CHECKED,
            code=c.code if c else "", message=c.message if c else "no check has run for this region yet",
            checked_at=c.checked_at if c else None, needs=_needs(p.action)))
    return rows


def permission_table(*, account: Account, region: str) -> list[PermissionRow]:
    """Every IAM action the product needs, in the table's order, with this scope's verdict."""
    return _rows({c.action: c for c in PermissionCheck.objects.filter(account=account, region=region)})


def permission_tables(*, account: Account) -> list[tuple[str, list[PermissionRow]]]:
    """``permission_table`` for each of the account's regions, in one query."""
    by_region: dict[str, dict[str, PermissionCheck]] = {}
    for c in PermissionCheck.objects.filter(account=account):
        by_region.setdefault(c.region, {})[c.action] = c
    return [(region, _rows(by_region.get(region, {}))) for region in account.regions]


@dataclass(frozen=True)
class ScopeProblem:
    account: Account
    region: str
    row: PermissionRow


def permission_problems() -> list[ScopeProblem]:
    """Every action denied or not checked, across enabled accounts (the status page). One query.

    A scope where nothing could be checked (the role refused, the region not enabled) is one
    row saying why, not one per action."""
    qs = (PermissionCheck.objects.exclude(state=PermissionState.GRANTED).filter(account__enabled=True)
          .select_related("account").order_by("account__name", "region", "state", "action"))
    policies = {p.action: p.policy for p in checked_actions()}
    by_scope: dict[tuple[int, str], list[PermissionCheck]] = {}
    for c in qs:
        by_scope.setdefault((c.account_id, c.region), []).append(c)
    out = []
    for checks in by_scope.values():
        first = checks[0]
        if (len(checks) >= len(policies) and all(c.state == PermissionState.NOT_CHECKED for c in checks)
                and len({c.message for c in checks}) == 1):
            out.append(ScopeProblem(first.account, first.region, PermissionRow(
                action=f"all {len(checks)} permissions", policy="", state=first.state, code=first.code,
                message=first.message, checked_at=first.checked_at, needs=(Need(
                    "everything", "nothing is checked for this scope until the problem is fixed", "", ""),))))
            continue
        for c in checks:
            out.append(ScopeProblem(c.account, c.region, PermissionRow(
                action=c.action, policy=policies.get(c.action, ""), state=c.state, code=c.code, message=c.message,
                checked_at=c.checked_at, needs=_needs(c.action))))
    return out


def _actions(action: str) -> list[str]:
    if ":" in action:
        return [action]
    return actions_for_kind(action)


def _reason(c: PermissionCheck, scope_label: str) -> str:
    needs = features_of(c.action)
    without = f"; without it {needs[0].without}" if needs else ""
    return (f"{c.action} is denied for {scope_label} ({c.code or 'AccessDenied'}, checked "
            f"{c.checked_at:%Y-%m-%d %H:%M} UTC){without}")


def permission_denied_reason(*, account: Account, region: str, action: str) -> str | None:
    """Why ``action`` is shown disabled for (account, region), or None (see the module's docstring)."""
    actions = _actions(action)
    if not actions:
        return None
    c = (PermissionCheck.objects.filter(account=account, region=region, action__in=actions,
                                        state=PermissionState.DENIED).order_by("action").first())
    return _reason(c, f"{account.name}/{region}") if c else None


def permission_denied_reasons(*, action: str) -> dict[tuple[int, str], str]:
    """``permission_denied_reason`` for every scope at once: {(account pk, region): reason}. One query."""
    actions = _actions(action)
    out: dict[tuple[int, str], str] = {}
    if not actions:
        return out
    for c in (PermissionCheck.objects.filter(action__in=actions, state=PermissionState.DENIED)
              .select_related("account").order_by("action")):
        out.setdefault((c.account_id, c.region), _reason(c, f"{c.account.name}/{c.region}"))
    return out


def permissions_checked() -> bool:
    """Whether any check has run (the status page's empty state tells "none denied" from "never checked")."""
    return PermissionCheck.objects.exists()


def permission_known(key: str) -> bool:
    """Whether "service:Operation" is in the table (for callers that check a call before making it)."""
    return key in BY_KEY
