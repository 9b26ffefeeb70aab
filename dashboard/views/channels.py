"""The notification channels pages: the list (anyone logged in), and add, edit, delete, send a
test and re-enable (operators). Targets are never shown back: pages print ``target_hint``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.channel_forms import ChannelForm
from dashboard.permissions import OPERATE, operator_required
from ops.alerts.channels import channel_delete, channel_save
from ops.alerts.outbox import channel_enable, channel_test
from ops.models import Channel
from ops.models.choices import NotificationState
from ops.selectors.channels import channel_rows, notifications_recent


def _channel_or_404(pk: int) -> Channel:
    channel = Channel.objects.filter(pk=pk).first()
    if channel is None:
        raise Http404("No such channel")
    return channel


@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/alerts/channels.html", {
        "channels": channel_rows(),
        "recent": notifications_recent(),
        "can_operate": request.user.has_perm(OPERATE),
    })


def _form_page(request: HttpRequest, form: ChannelForm, channel: Channel | None) -> HttpResponse:
    return render(request, "dashboard/alerts/channel_form.html", {"form": form, "channel": channel},
                  status=400 if form.is_bound and form.errors else 200)


def _save(request: HttpRequest, form: ChannelForm, channel: Channel) -> HttpResponse:
    data = form.cleaned_data
    created = channel.pk is None
    was_disabled = not created and not channel.enabled
    try:
        channel_save(channel=channel, name=data["name"], kind=data["kind"], target=data.get("target") or None,
                     actor=request.user)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _form_page(request, form, None if created else channel)
    note = " and re-enabled (new target)" if was_disabled and channel.enabled else ""
    messages.success(request, f"Channel {channel.name} {'added' if created else 'saved'}{note}. "
                              "Send a test notification to check it reaches you.")
    return redirect("channels")


@require_http_methods(["GET", "POST"])
@operator_required
def channel_add(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, ChannelForm(), None)
    form = ChannelForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, None)
    return _save(request, form, Channel())


@require_http_methods(["GET", "POST"])
@operator_required
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_or_404(pk)
    if request.method == "GET":
        return _form_page(request, ChannelForm(initial={"name": channel.name, "kind": channel.kind}, channel=channel), channel)
    form = ChannelForm(request.POST, channel=channel)
    if not form.is_valid():
        return _form_page(request, form, channel)
    return _save(request, form, channel)


@require_POST
@operator_required
def channel_remove(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_or_404(pk)
    name = channel.name
    channel_delete(channel=channel, actor=request.user)
    messages.success(request, f"Channel {name} deleted; rules that used it no longer notify it.")
    return redirect("channels")


@require_POST
@operator_required
def channel_send_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_or_404(pk)
    row = channel_test(channel=channel, user=request.user)
    attempt = row.attempts_log.order_by("-at", "-id").first()
    took = f" in {attempt.duration_ms} ms" if attempt is not None else ""
    if row.state == NotificationState.SENT:
        code = f" (answer {attempt.status_code})" if attempt is not None and attempt.status_code else ""
        messages.success(request, f"Test notification sent to {channel.name}{took}{code}.")
    else:
        kind = "permanent: retrying will not help, fix the target" if attempt is not None and not attempt.transient \
            else "transient: the receiver may be down; try again later"
        messages.error(request, f"Test notification to {channel.name} failed{took}: {row.last_error} ({kind}).")
    return redirect("channels")


@require_POST
@operator_required
def channel_reenable(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_or_404(pk)
    channel_enable(channel=channel)
    messages.success(request, f"Channel {channel.name} re-enabled. Notifications cancelled while it was disabled stay cancelled.")
    return redirect("channels")
