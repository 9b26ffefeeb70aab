"""The permission check: what each account's role may do, per region, stored for the pages.

``permission_check_run`` asks AWS (ops.aws.permissions.probes: a fresh AssumeRole, then one
cheap call per IAM action of the table) and returns a report without writing anything;
``permission_check_store`` writes a report's verdicts; ``permission_check`` does both (on demand,
and from the task a poll's new AccessDenied enqueues); ``account_save_checked`` is the accounts
page's save: check first, then save the account and its verdicts together or nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ops.aws.client import Scope
from ops.aws.errors import AwsError
from ops.aws.permissions import checked_actions
from ops.aws.permissions.probes import (DENIED_CODES, AssumeFailed, ProbeResult, RegionUnavailable, scope_probe,
                                        session_open)
from ops.models import Account, AuditResult, PermissionCheck, PermissionState
from ops.services.accounts import account_save
from ops.services.audit import audit_record

log = logging.getLogger(__name__)

# A poll that meets AccessDenied asks for a re-check of its scope at most this often: a scope
# denied on every run (every minute, per source) needs one check, not one per poll.
RECHECK_AFTER_DENIED_S = 10 * 60


@dataclass(frozen=True)
class RegionReport:
    region: str
    results: tuple[ProbeResult, ...] = ()
    problem: str = ""  # the region could not be checked at all (not enabled, AWS unreachable)
    code: str = ""


@dataclass
class CheckReport:
    account_id: str
    checked_at: datetime
    regions: list[RegionReport] = field(default_factory=list)
    assume_error: AwsError | None = None  # the role could not be assumed: nothing was checked

    @property
    def ok(self) -> bool:
        """The role was assumed and every region answered (some actions may still be denied)."""
        return self.assume_error is None and not any(r.problem for r in self.regions)

    def problems(self) -> list[str]:
        if self.assume_error is not None:
            e = self.assume_error
            return [f"{e.code}: the role cannot be assumed (sts:AssumeRole): {e.message}"]
        return [f"{r.region}: {r.problem}" for r in self.regions if r.problem]

    def denied(self) -> list[tuple[str, ProbeResult]]:
        return [(r.region, x) for r in self.regions for x in r.results if x.state == PermissionState.DENIED]


def permission_check_run(*, account_id: str, role_arn: str, external_id: str, regions: list[str]) -> CheckReport:
    """Ask AWS, write nothing (see the module's docstring). Never raises for AWS's answers."""
    report = CheckReport(account_id=account_id, checked_at=timezone.now())
    permissions = checked_actions()
    session = None
    for region in regions:
        scope = Scope(account_id=account_id, region=region, role_arn=role_arn, external_id=external_id)
        try:
            session = session or session_open(scope)
            results = scope_probe(scope, permissions, session=session)
        except AssumeFailed as exc:
            report.assume_error = exc.err
            return report
        except RegionUnavailable as exc:
            report.regions.append(RegionReport(region, problem=str(exc), code=exc.err.code))
            continue
        except AwsError as err:  # the endpoint itself failed (a timeout): say so, check later
            report.regions.append(RegionReport(region, problem=f"not checked: {err}", code=err.code))
            continue
        report.regions.append(RegionReport(region, tuple(results)))
    return report


@transaction.atomic
def permission_check_store(*, account: Account, report: CheckReport) -> int:
    """Replace the account's verdicts with the report's (one row per region × action); a region
    or role that could not be checked leaves every action "not checked", saying why."""
    actions = [p.action for p in checked_actions()]
    rows = []
    by_region = {r.region: r for r in report.regions}
    for region in account.regions:
        rr = by_region.get(region)
        results = {x.action: x for x in rr.results} if rr else {}
        why = (report.problems() or [""])[0] if report.assume_error else (rr.problem if rr else "not checked yet")
        for action in actions:
            x = results.get(action)
            if x is None:
                rows.append(PermissionCheck(account=account, region=region, action=action, state=PermissionState.NOT_CHECKED,
                                            code=(report.assume_error.code if report.assume_error else (rr.code if rr else "")),
                                            message=why[:2000], checked_at=report.checked_at))
            else:
                rows.append(PermissionCheck(account=account, region=region, action=action, state=x.state,
                                            code=x.code[:128], message=x.message[:2000], checked_at=report.checked_at))
    PermissionCheck.objects.filter(account=account).delete()
    PermissionCheck.objects.bulk_create(rows)
    return len(rows)


def _audit_check(account: Account, report: CheckReport, *, actor) -> None:
    denied = report.denied()
    audit_record(
        actor=actor or "system",
        action="account.permission_check",
        target_type="account",
        target_id=account.account_id,
        target_label=account.name,
        result=AuditResult.SUCCEEDED if report.ok else AuditResult.FAILED,
        parameters={"regions": account.regions, "denied": sorted({f"{r}:{x.action}" for r, x in denied})[:100]},
        message="; ".join(report.problems())[:1000],
    )


def permission_check(*, account: Account, actor=None) -> CheckReport:
    """Check every region of ``account`` now and store the verdicts (audited)."""
    report = permission_check_run(account_id=account.account_id, role_arn=account.role_arn,
                                  external_id=account.external_id, regions=list(account.regions))
    with transaction.atomic():
        permission_check_store(account=account, report=report)
        _audit_check(account, report, actor=actor)
    return report


class AccountCheckFailed(ValueError):
    """The account as entered cannot be used: the role cannot be assumed, or a region refuses."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__("; ".join(report.problems()))
        self.report = report


def account_save_checked(*, account: Account, actor) -> CheckReport:
    """Check the account as entered, then save it with its verdicts, or raise AccountCheckFailed
    and save nothing (a role that cannot be assumed, a region that is not enabled). Denied
    actions do not stop the save: they are shown, with what the product does without them."""
    account.full_clean()  # a malformed id, ARN or region never reaches AWS
    report = permission_check_run(account_id=account.account_id, role_arn=account.role_arn,
                                  external_id=account.external_id, regions=list(account.regions))
    if not report.ok:
        audit_record(actor=actor, action="account.permission_check", target_type="account",
                     target_id=account.account_id, target_label=account.name, result=AuditResult.FAILED,
                     parameters={"regions": account.regions, "role_arn": account.role_arn, "saved": False},
                     message="; ".join(report.problems())[:1000])
        raise AccountCheckFailed(report)
    with transaction.atomic():
        account_save(account=account, actor=actor)
        permission_check_store(account=account, report=report)
        _audit_check(account, report, actor=actor)
    return report


def permission_recheck_request(*, account: Account, region: str, code: str) -> bool:
    """A poll of (account, region) met ``code``: when it is an AccessDenied, ask for a re-check
    of that account (once per RECHECK_AFTER_DENIED_S), after the poll's own writes commit.
    Never raises and never waits on the broker for long: the poll must go on."""
    if code not in DENIED_CODES:
        return False
    try:
        if not cache.add(f"permission-recheck:{account.pk}", region, RECHECK_AFTER_DENIED_S):
            return False
    except Exception:  # noqa: BLE001 - no Redis: no re-check this time, the poll is what matters
        log.warning("permission re-check for %s not requested: cache unavailable", account.name)
        return False

    def enqueue() -> None:
        from ops.tasks.pollers import permissions_check

        permissions_check.delay(account.pk)

    transaction.on_commit(enqueue, robust=True)
    return True
