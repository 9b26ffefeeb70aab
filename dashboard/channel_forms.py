"""The channel form: a name, a kind and a target. The target field never renders the stored
value; on an edit, blank keeps it. Validation of the target itself is the service's
(ops.alerts.targets), so the form and any other caller refuse the same URLs."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from ops.alerts.targets import target_check
from ops.models import Channel
from ops.models.choices import ChannelKind


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    kind = forms.ChoiceField(choices=ChannelKind.choices)
    target = forms.CharField(
        required=False, max_length=2000, strip=True,
        # a password input never echoes what was typed after a failed submit either
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Slack: the incoming webhook URL. JSON webhook: an https URL. Email: addresses, comma-separated.",
    )

    def __init__(self, *args, channel: Channel | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is not None:
            self.fields["target"].help_text = (
                f"Stored: {channel.target_hint or 'hidden'}. Leave blank to keep it; type a new one to replace it."
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        taken = Channel.objects.filter(name=name)
        if self.channel is not None:
            taken = taken.exclude(pk=self.channel.pk)
        if taken.exists():
            raise ValidationError("A channel with that name exists already.")
        return name

    def clean(self):
        data = super().clean()
        kind, target = data.get("kind"), data.get("target")
        if kind is None:
            return data
        if not target:
            if self.channel is None:
                self.add_error("target", "Enter where to send.")
            elif kind != self.channel.kind:
                self.add_error("target", "Changing the kind needs a new target.")
            return data
        try:
            data["target"] = target_check(kind=kind, target=target)
        except ValidationError as exc:
            self.add_error("target", exc.messages)
        return data
