"""Confirm pages and POSTs of alias rollback, canary finish/abort and the emergency controls,
and the rollback job's "did it help" panel.

Every route: GET renders the confirm page (operators only: it offers to act), POST with the
page's idempotency key asks for the job and redirects to its page. A link an alert carries
is the GET — it never acts.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from dashboard import params as clean
from dashboard.confirm import confirm_context
from dashboard.forms import KeyedForm
from dashboard.job_panels import job_panel_register
from dashboard.permissions import operator_required
from ops.actions.runner import JobRequestError
from ops.models import Job, JobKind
from ops.selectors.deploys import (
    EFFECT_MINUTES,
    action_effect,
    alias_for_action,
    esm_for_action,
    function_for_action,
)
from ops.selectors.jobs import job_get
from ops.services.actions import (
    ActionRefused,
    alias_action_request,
    alias_preflight,
    concurrency_preflight,
    concurrency_request,
    esm_preflight,
    esm_toggle_request,
)

VERSION = re.compile(r"^\d{1,10}$")
ALIAS_TITLES = {
    JobKind.ALIAS_ROLLBACK: "Roll back",
    JobKind.CANARY_FINISH: "Finish canary",
    JobKind.CANARY_ABORT: "Abort canary",
}
# The job page re-reads "did it help" this often (seconds) for 15 minutes after the action.
EFFECT_REFRESH_S = 15


class AliasActionForm(KeyedForm):
    revision_id = forms.RegexField(
        regex=r"^[A-Za-z0-9-]{1,64}$",
        error_messages={"invalid": "The alias revision is malformed; reload the page.",
                        "required": "The page carried no alias revision; reload it."},
    )
    to_version = forms.RegexField(
        regex=VERSION.pattern,
        error_messages={"invalid": "The target version must be a version number.",
                        "required": "No target version was given."},
    )


class ConcurrencyForm(KeyedForm):
    reserved = forms.IntegerField(
        min_value=0, max_value=100_000, required=False,
        error_messages={"invalid": "Reserved concurrency must be a whole number.",
                        "min_value": "Reserved concurrency cannot be negative.",
                        "max_value": "Reserved concurrency is above any account limit."},
    )
    # what the page showed: "" = unreserved
    expected = forms.IntegerField(
        min_value=0, max_value=100_000, required=False,
        error_messages={"invalid": "The page's concurrency value is malformed; reload it."},
    )


class EsmForm(KeyedForm):
    enable = forms.ChoiceField(choices=[("1", "enable"), ("0", "disable")],
                               error_messages={"invalid_choice": "enable must be 1 or 0.", "required": "enable is required."})


def _dropping(read, params, name: str, **kw):
    """A GET value read through dashboard.params; a bad one is dropped by page_view (the page
    renders without it and says why, 400)."""
    try:
        return read(params, name, **kw)
    except clean.ParamError as err:
        raise clean.ParamError(name, err.message, drop=(name,)) from None


def _function_url(fn) -> str:
    return reverse("function", args=[fn.pk])


def _queued(request: HttpRequest, result) -> HttpResponse:
    (messages.success if result.created else messages.info)(request, result.message)
    return redirect("job", pk=result.job.pk)


# --- alias moves ---------------------------------------------------------------------------------
def _alias_view(request: HttpRequest, pk: int, alias_pk: int, kind: str) -> HttpResponse:
    alias = alias_for_action(function_pk=pk, alias_pk=alias_pk)
    if alias is None:
        raise Http404("No such alias")
    error, status = "", 200
    to_version = _dropping(clean.text, request.GET, "to", max_length=10)
    if request.method == "POST":
        form = AliasActionForm(request.POST)
        if form.is_valid():
            try:
                return _queued(request, alias_action_request(
                    kind=kind, alias=alias, user=request.user, to_version=form.cleaned_data["to_version"],
                    revision_id=form.cleaned_data["revision_id"], idempotency_key=form.cleaned_data["idempotency_key"]))
            except (ActionRefused, JobRequestError) as err:
                error, status = str(err), 409
        else:
            error, status = form.first_error(), 400
        to_version = request.POST.get("to_version", "") if VERSION.match(request.POST.get("to_version", "")) else ""
    if to_version and not VERSION.match(to_version):
        raise clean.ParamError("to", "must be a version number", drop=("to",))
    pf = alias_preflight(alias=alias, kind=kind, to_version=to_version if kind == JobKind.ALIAS_ROLLBACK else "")
    context = confirm_context(
        action_url=request.path, cancel_url=_function_url(alias.function),
        pf=pf, fn=alias.function, title=ALIAS_TITLES[kind], kind=kind, error=error,
        is_rollback=kind == JobKind.ALIAS_ROLLBACK,
    )
    return render(request, "dashboard/actions/alias_confirm.html", context, status=status)


def _alias_route(kind: str):
    @clean.page_view
    @require_http_methods(["GET", "HEAD", "POST"])
    @operator_required
    def view(request: HttpRequest, pk: int, alias_pk: int) -> HttpResponse:
        return _alias_view(request, pk, alias_pk, kind)

    view.__name__ = f"alias_{kind.replace('.', '_')}"
    return view


alias_rollback = _alias_route(JobKind.ALIAS_ROLLBACK)
canary_finish = _alias_route(JobKind.CANARY_FINISH)
canary_abort = _alias_route(JobKind.CANARY_ABORT)


# --- reserved concurrency ------------------------------------------------------------------------
def _concurrency_view(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    fn = function_for_action(function_pk=pk)
    if fn is None:
        raise Http404("No such function")
    error, status = "", 200
    reserved = None
    if kind == JobKind.FUNCTION_CONCURRENCY and "reserved" in request.GET:
        reserved = _dropping(clean.integer, request.GET, "reserved", default=0, minimum=0, maximum=100_000)
    if request.method == "POST":
        form = ConcurrencyForm(request.POST)
        if form.is_valid():
            reserved = form.cleaned_data["reserved"]
            try:
                return _queued(request, concurrency_request(
                    function=fn, kind=kind, user=request.user, reserved=reserved,
                    expected=form.cleaned_data["expected"], idempotency_key=form.cleaned_data["idempotency_key"]))
            except (ActionRefused, JobRequestError) as err:
                error, status = str(err), 409
        else:
            error, status = form.first_error(), 400
    pf = concurrency_preflight(function=fn, kind=kind, reserved=reserved)
    context = confirm_context(action_url=request.path, cancel_url=_function_url(fn), pf=pf, fn=fn, kind=kind,
                              error=error, is_set=kind == JobKind.FUNCTION_CONCURRENCY)
    return render(request, "dashboard/actions/concurrency_confirm.html", context, status=status)


def _concurrency_route(kind: str):
    @clean.page_view
    @require_http_methods(["GET", "HEAD", "POST"])
    @operator_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return _concurrency_view(request, pk, kind)

    view.__name__ = f"{kind.replace('.', '_')}"
    return view


function_throttle = _concurrency_route(JobKind.FUNCTION_THROTTLE)
function_unthrottle = _concurrency_route(JobKind.FUNCTION_UNTHROTTLE)
function_concurrency = _concurrency_route(JobKind.FUNCTION_CONCURRENCY)


# --- event source mappings ----------------------------------------------------------------------
@clean.page_view
@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
def esm_toggle(request: HttpRequest, pk: int, esm_pk: int) -> HttpResponse:
    esm = esm_for_action(function_pk=pk, esm_pk=esm_pk)
    if esm is None:
        raise Http404("No such event source mapping")
    error, status = "", 200
    if request.method == "POST":
        form = EsmForm(request.POST)
        if form.is_valid():
            try:
                return _queued(request, esm_toggle_request(
                    esm=esm, user=request.user, enable=form.cleaned_data["enable"] == "1",
                    idempotency_key=form.cleaned_data["idempotency_key"]))
            except (ActionRefused, JobRequestError) as err:
                error, status = str(err), 409
        else:
            error, status = form.first_error(), 400
    pf = esm_preflight(esm=esm)
    context = confirm_context(action_url=request.path, cancel_url=_function_url(esm.function), pf=pf,
                              fn=esm.function, error=error)
    return render(request, "dashboard/actions/esm_confirm.html", context, status=status)


# --- "did it help" on the job page ---------------------------------------------------------------
def _effect_context(job: Job) -> dict:
    return {"effect": action_effect(job=job), "effect_minutes": EFFECT_MINUTES,
            "effect_url": reverse("action-effect", args=[job.pk]), "effect_refresh_s": EFFECT_REFRESH_S}


@clean.fragment_view
@require_GET
def action_effect_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_get(pk=pk)
    if job is None or job.kind not in ALIAS_TITLES:
        raise Http404("No such rollback job")
    return render(request, "dashboard/actions/_effect.html", {"job": job, "panel": _effect_context(job)})


for _kind in ALIAS_TITLES:
    job_panel_register(kind=_kind, template="dashboard/actions/_effect.html", context=_effect_context)
