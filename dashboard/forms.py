"""Forms for the few POSTs the UI takes; they parse and bound values, services decide the rest."""

from __future__ import annotations

from django import forms


class KeyedForm(forms.Form):
    """A POST that acts: it carries the idempotency key its page was rendered with, so a double
    click (or a retried request) finds the job the first one made instead of making a second."""

    idempotency_key = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{8,64}$",
        error_messages={"invalid": "The request key is malformed; reload the page and try again.",
                        "required": "The request carries no key; reload the page and try again."},
    )

    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return ""


class PollNowForm(KeyedForm):
    account = forms.IntegerField(
        min_value=1, error_messages={"invalid": "The account must be a whole number (an account's id).",
                                     "required": "No account was given.",
                                     "min_value": "No such account."}
    )
    region = forms.RegexField(
        regex=r"^[a-z]{2}(-[a-z]+)+-\d$",
        max_length=32,
        error_messages={"invalid": "Not an AWS region name (e.g. us-east-1).", "required": "No region was given."},
    )
    # Rendered into the form once per page view, so a double click sends the same key twice;
    # optional here (a poll asked for twice is harmless), required for actions.
    idempotency_key = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{8,64}$", required=False,
        error_messages={"invalid": "The request key is malformed; reload the page and try again."},
    )
