"""The accounts pages (admins only): list, one account with its permission table, add, edit
(and disable), re-run the permission check. Saving checks first (ops.services.permissions): a
role that cannot be assumed or a region that refuses is a form error naming AWS's code, and
nothing is saved."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.account_forms import AccountForm
from ops.aws.permissions.policy import policy_json
from ops.models import Account, PermissionState
from ops.selectors.permissions import permission_tables
from ops.services.accounts import account_save
from ops.services.permissions import AccountCheckFailed, CheckReport, account_save_checked, permission_check


def admin_required(view):
    """403 for anyone but an admin (a Django superuser): accounts decide what the product reads."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied("Accounts are managed by admins.")
        return view(request, *args, **kwargs)

    return wrapped


def _account_or_404(pk: int) -> Account:
    account = Account.objects.filter(pk=pk).first()
    if account is None:
        raise Http404("No such account")
    return account


@require_GET
@admin_required
def account_list(request: HttpRequest) -> HttpResponse:
    from django.db.models import Count, Q

    accounts = Account.objects.annotate(
        denied=Count("permission_checks", filter=Q(permission_checks__state=PermissionState.DENIED)),
        unchecked=Count("permission_checks", filter=Q(permission_checks__state=PermissionState.NOT_CHECKED)),
        checks=Count("permission_checks"),
    ).order_by("name")
    return render(request, "dashboard/accounts/list.html", {"accounts": accounts})


@require_GET
@admin_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account_or_404(pk)
    return render(request, "dashboard/accounts/detail.html", {
        "account": account,
        "tables": permission_tables(account=account),
    })


def _summary(report: CheckReport) -> str:
    denied = report.denied()
    total = sum(len(r.results) for r in report.regions)
    if not denied:
        return f"every permission checked is granted ({total} checks over {len(report.regions)} region(s))"
    names = ", ".join(sorted({f"{x.action} ({region})" for region, x in denied})[:6])
    return f"{len(denied)} of {total} checks denied: {names}; the table below says what the product does without them"


def _form_page(request: HttpRequest, form: AccountForm, account: Account | None, problems=()) -> HttpResponse:
    return render(request, "dashboard/accounts/form.html", {
        "form": form, "account": account, "problems": problems,
        "read_only_policy": policy_json("read-only") if account is None else "",
    }, status=400 if problems or form.errors else 200)


@require_http_methods(["GET", "POST"])
@admin_required
def account_add(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, AccountForm(), None)
    form = AccountForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, None)
    data = form.cleaned_data
    taken = Account.objects.filter(account_id=data["account_id"]).first()
    if taken is not None:
        form.add_error("account_id", f"Account {data['account_id']} is already configured, as {taken.name!r}.")
        return _form_page(request, form, None)
    account = Account(name=data["name"], account_id=data["account_id"], role_arn=data["role_arn"],
                      external_id=data["external_id"], regions=data["regions"], enabled=data["enabled"])
    return _save(request, form, account, created=True)


@require_http_methods(["GET", "POST"])
@admin_required
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account_or_404(pk)
    initial = {"name": account.name, "account_id": account.account_id, "role_arn": account.role_arn,
               "external_id": account.external_id, "regions": ", ".join(account.regions), "enabled": account.enabled}
    if request.method == "GET":
        return _form_page(request, AccountForm(initial=initial, editing=True), account)
    form = AccountForm(request.POST, initial=initial, editing=True)
    if not form.is_valid():
        return _form_page(request, form, account)
    data = form.cleaned_data
    for name in ("name", "role_arn", "external_id", "regions", "enabled"):
        setattr(account, name, data[name])
    return _save(request, form, account, created=False)


def _save(request: HttpRequest, form: AccountForm, account: Account, *, created: bool) -> HttpResponse:
    try:
        if account.enabled:
            report = account_save_checked(account=account, actor=request.user)
        else:
            # Disabling must work when the role is the problem: nothing is polled, nothing checked.
            account_save(account=account, actor=request.user)
            messages.success(request, f"{account.name} saved, disabled: it is not polled.")
            return redirect("account", pk=account.pk)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _form_page(request, form, account if not created else None)
    except AccountCheckFailed as exc:
        return _form_page(request, form, account if not created else None, problems=exc.report.problems())
    messages.success(request, f"{account.name} {'added' if created else 'saved'}: {_summary(report)}.")
    return redirect("account", pk=account.pk)


@require_POST
@admin_required
def account_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Re-run the check now (all the account's regions, a few dozen cheap calls each)."""
    account = _account_or_404(pk)
    report = permission_check(account=account, actor=request.user)
    if report.ok:
        messages.success(request, f"Checked {account.name}: {_summary(report)}.")
    else:
        messages.error(request, f"Checked {account.name}: {'; '.join(report.problems())}")
    return redirect("account", pk=account.pk)
