"""The alert rule pages: the list with state counts, a rule (its form, the targets pending or
firing, the 7-day preview), new, delete with a confirm page. Anyone signed in reads; creating,
editing and deleting need the operator role. The preview also answers for an unsaved form
(htmx posts the form here), so an operator sees what a threshold would have done before saving."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.alert_forms import UNITS, AlertRuleForm, rollback_sentence
from dashboard.charts.alerts import rule_preview_chart
from dashboard.permissions import operator_required
from ops.alerts.judge import Criteria
from ops.alerts.preview import (
    PREVIEW_DAYS,
    PREVIEWABLE,
    Preview,
    function_preview,
    region_preview,
    scope_functions,
    worst_function,
)
from ops.models import Account, AlertRule
from ops.models.choices import AlertScope, AlertSignal
from ops.selectors.alerts import alert_rule_states, alert_rules_with_counts, alert_tick_summary
from ops.services.alert_rules import alert_rule_delete, alert_rule_save

CHANNELS_URL = "/alerts/channels/"  # the channel pages (ops notify); linked, not reversed


def _rule_or_404(pk: int) -> AlertRule:
    rule = AlertRule.objects.select_related("function", "account", "auto_rollback_alias__function").filter(pk=pk).first()
    if rule is None:
        raise Http404("No such alert rule")
    return rule


@require_GET
def alert_rules(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/alerts/rules.html", {
        "rules": alert_rules_with_counts(), "tick": alert_tick_summary(), "channels_url": CHANNELS_URL,
    })


def _form_page(request, form: AlertRuleForm, rule: AlertRule | None, *, status: int = 200) -> HttpResponse:
    if not request.user.has_perm("ops.operate"):
        for field in form.fields.values():
            field.disabled = True
    data = form.cleaned_data if form.is_bound and form.is_valid() else None
    alias = (data or {}).get("auto_rollback_alias", rule.auto_rollback_alias if rule else None)
    minutes = (data or {}).get("auto_rollback_minutes", rule.auto_rollback_minutes if rule else 30)
    context = {
        "form": form, "rule": rule, "channels_url": CHANNELS_URL,
        "units": [(AlertSignal(k).label, u) for k, u in UNITS.items()],
        "rollback_sentence": rollback_sentence(alias=alias, minutes=minutes),
        "states": alert_rule_states(rule=rule) if rule else [],
        "preview_days": PREVIEW_DAYS,
    }
    if rule is not None:
        context.update(_preview_context(rule, request.GET.get("function")))
    return render(request, "dashboard/alerts/rule.html", context, status=status)


@require_http_methods(["GET", "POST"])
@operator_required
def alert_rule_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, AlertRuleForm(), None)
    form = AlertRuleForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, None, status=400)
    rule = alert_rule_save(rule=None, data=form.cleaned_data, user=request.user)
    messages.success(request, f"Rule “{rule.name}” created; the next evaluation tick judges it.")
    return redirect("alert-rule", pk=rule.pk)


@require_http_methods(["GET", "POST"])
def alert_rule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule_or_404(pk)
    if request.method == "GET":
        return _form_page(request, AlertRuleForm(instance=rule), rule)
    return _alert_rule_update(request, rule)


@operator_required
def _alert_rule_update(request: HttpRequest, rule: AlertRule) -> HttpResponse:
    form = AlertRuleForm(request.POST, instance=AlertRule.objects.get(pk=rule.pk))
    if not form.is_valid():
        return _form_page(request, form, rule, status=400)
    alert_rule_save(rule=rule, data=form.cleaned_data, user=request.user)
    messages.success(request, f"Rule “{rule.name}” saved.")
    return redirect("alert-rule", pk=rule.pk)


@require_http_methods(["GET", "POST"])
@operator_required
def alert_rule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule_or_404(pk)
    if request.method == "GET":
        return render(request, "dashboard/alerts/rule_delete.html", {
            "rule": rule, "states": alert_rule_states(rule=rule)})
    name = rule.name
    alert_rule_delete(rule=rule, user=request.user)
    messages.success(request, f"Rule “{name}” deleted.")
    return redirect("alert-rules")


@require_POST
def alert_rule_preview(request: HttpRequest) -> HttpResponse:
    """The preview partial for the form as posted (saved or not): nothing is written."""
    form = AlertRuleForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/alerts/_preview.html", {
            "preview_error": f"Fix the form first: {form.first_error()}"}, status=200)
    rule = AlertRule(**{k: v for k, v in form.cleaned_data.items() if k != "channels"})
    return render(request, "dashboard/alerts/_preview.html", _preview_context(rule, request.POST.get("preview_function")))


def _preview_context(rule: AlertRule, chosen: str | None) -> dict:
    """Which target, its replay and the chart (the view's only logic: picking the target)."""
    criteria = Criteria.of(rule)
    label, unit = AlertSignal(rule.signal).label, UNITS.get(rule.signal, "")
    ctx = {"preview_rule": rule, "preview_days": PREVIEW_DAYS, "preview_unit": unit, "preview_targets": [],
           "preview_target": None}
    if rule.signal not in PREVIEWABLE:
        preview = Preview(reason=f"{label}: no per-minute history is stored that a replay could trust, so this rule "
                                 "is not previewed (the preview covers per-function metrics, DLQs and region headroom).")
    elif rule.signal == AlertSignal.REGION_HEADROOM:
        scopes = [(a, r) for a in Account.objects.filter(enabled=True).order_by("name") for r in a.regions
                  if rule.scope == AlertScope.ALL or (a.pk == rule.account_id and (
                      rule.scope == AlertScope.ACCOUNT or r == rule.region))]
        ctx["preview_targets"] = [(f"{a.pk}:{r}", f"{a.name} / {r}") for a, r in scopes]
        pick = next((s for s in scopes if f"{s[0].pk}:{s[1]}" == chosen), scopes[0] if scopes else None)
        if pick is None:
            preview = Preview(reason="No account × region is in this rule's scope.")
        else:
            ctx["preview_target"] = f"{pick[0].pk}:{pick[1]}"
            preview = region_preview(criteria=criteria, account=pick[0], region=pick[1])
    else:
        functions = scope_functions(rule)
        ctx["preview_targets"] = [(str(f.pk), f"{f.account.name}/{f.region}/{f.name}") for f in functions]
        fn = next((f for f in functions if str(f.pk) == chosen), None) or worst_function(rule, functions)
        if fn is None:
            preview = Preview(reason="No live function is in this rule's scope yet.")
        else:
            ctx["preview_target"] = str(fn.pk)
            ctx["preview_function"] = fn
            preview = function_preview(signal=rule.signal, criteria=criteria, function=fn)
    ctx["preview"] = preview
    ctx["charts"] = rule_preview_chart(preview, metric=label, unit=unit, threshold=float(rule.threshold))
    ctx["charts_json"] = json.dumps(ctx["charts"])
    return ctx
