"""The incidents list, one incident (diagnosis, timeline, rules), acknowledge / mute / unmute from
the page (operators, POST) and the signed links a notification carries (GET = confirm page,
POST = act; a login is needed either way, the link is not a password)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import params as clean
from dashboard.permissions import OPERATE, operator_required
from ops.alerts.acks import MUTE_CHOICES, MUTE_MAX_MINUTES, incident_acknowledge, incident_mute, incident_unmute
from ops.alerts.links import LinkInvalid, incident_link_read
from ops.models.choices import IncidentStatus
from ops.selectors.incidents import incident_detail, incident_get, incidents_list

STATUSES = ("", IncidentStatus.OPEN, IncidentStatus.RESOLVED)


class MuteForm(forms.Form):
    minutes = forms.IntegerField(
        min_value=1, max_value=MUTE_MAX_MINUTES,
        error_messages={"invalid": "The mute duration must be a whole number of minutes.",
                        "required": "No mute duration was given.",
                        "min_value": "Mute for at least 1 minute.",
                        "max_value": "Mute for at most 7 days (10080 minutes)."},
    )


def _incident_or_404(pk: int):
    incident = incident_get(pk=pk)
    if incident is None:
        raise Http404("No such incident")
    return incident


@clean.page_view
def incident_list(request: HttpRequest) -> HttpResponse:
    status = clean.choice(request.GET, "status", STATUSES, default="")
    rows = incidents_list(status=status)
    return render(request, "dashboard/incidents/list.html", {
        "rows": rows, "status": status, "open_count": sum(1 for r in rows if r.incident.status == IncidentStatus.OPEN),
    })


@clean.page_view
def incident_page(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(pk)
    return render(request, "dashboard/incidents/detail.html", {
        "d": incident_detail(incident=incident), "incident": incident, "mute_choices": MUTE_CHOICES,
        "is_operator": request.user.has_perm(OPERATE),
    })


@require_POST
@operator_required
def incident_ack(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(pk)
    if incident_acknowledge(incident=incident, user=request.user, via="page"):
        messages.success(request, f"Incident #{incident.pk} acknowledged.")
    else:
        messages.info(request, f"Incident #{incident.pk} was already acknowledged (or is resolved); nothing changed.")
    return redirect("incident", pk=incident.pk)


@require_POST
@operator_required
def incident_mute_view(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(pk)
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, next(iter(form.errors.values()))[0])
        return redirect("incident", pk=incident.pk)
    if incident_mute(incident=incident, user=request.user, minutes=form.cleaned_data["minutes"], via="page"):
        messages.success(request, f"Incident #{incident.pk} muted until {incident.muted_until:%H:%M} UTC.")
    else:
        messages.info(request, f"Incident #{incident.pk} is resolved; nothing to mute.")
    return redirect("incident", pk=incident.pk)


@require_POST
@operator_required
def incident_unmute_view(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(pk)
    if incident_unmute(incident=incident, user=request.user, via="page"):
        messages.success(request, f"Incident #{incident.pk} unmuted.")
    else:
        messages.info(request, f"Incident #{incident.pk} was not muted; nothing changed.")
    return redirect("incident", pk=incident.pk)


@require_http_methods(["GET", "HEAD", "POST"])
def incident_act(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """A notification's signed link. GET: what it will do, one button; POST: do it, as the
    logged-in operator. An expired (410) or altered (403) link does nothing and says why."""
    try:
        action = incident_link_read(incident_id=pk, token=token)
    except LinkInvalid as err:
        # 410 Gone for a link past its age, 403 for one whose signature does not verify: the
        # request is well-formed, the link just grants nothing
        return render(request, "dashboard/incidents/link_invalid.html", {"message": str(err), "pk": pk,
                                                                        "expired": err.expired},
                      status=410 if err.expired else 403)
    incident = _incident_or_404(pk)
    is_operator = request.user.has_perm(OPERATE)
    if request.method == "POST":
        if not is_operator:
            return render(request, "dashboard/incidents/act.html", {
                "incident": incident, "action": action, "is_operator": False}, status=403)
        if action.action == "ack":
            done = incident_acknowledge(incident=incident, user=request.user, via="link")
            msg = "acknowledged" if done else "was already acknowledged (or is resolved); nothing changed"
        else:
            done = incident_mute(incident=incident, user=request.user, minutes=action.minutes, via="link")
            msg = f"muted until {incident.muted_until:%H:%M} UTC" if done else "is resolved; nothing to mute"
        (messages.success if done else messages.info)(request, f"Incident #{incident.pk} {msg}.")
        return redirect("incident", pk=incident.pk)
    return render(request, "dashboard/incidents/act.html", {"incident": incident, "action": action,
                                                            "is_operator": is_operator})
