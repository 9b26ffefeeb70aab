"""The POSTs of the DLQ actions: the selection the confirm page was rendered for travels back in
hidden fields and is parsed here exactly as the GET was (dashboard.params), so what is acted on
is what was previewed."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from dashboard import params
from dashboard.forms import KeyedForm
from ops.aws.sqs import MOVE_VELOCITY_MAX
from ops.selectors.dlq_search import MAX_EXPRESSION, CriteriaError, json_path_parse
from ops.selectors.redrive import RedriveSelection

METHODS = ("loop", "move")
# The DLQ page's own limits (dashboard/views/dlq.py), so every selection its links carry here is read.
JSON_PATH_MAX = MAX_EXPRESSION
TEXT_MAX = 200


def selection_from(data: QueryDict) -> RedriveSelection:
    """A selection from query or form values; raises params.ParamError naming the bad one."""
    since, until = params.instant(data, "since"), params.instant(data, "until")
    if since and until and until <= since:
        raise params.ParamError("until", "must be after since")
    return RedriveSelection(
        ids=params.message_ids(data),
        group=params.error_group(data),
        since=since,
        until=until,
        text=params.text(data, "q", max_length=TEXT_MAX),
        json_path=_json_path(data),
        upto=_upto(data),
    )


def _upto(data: QueryDict) -> int | None:
    """The highest stored message id the confirm page's preview saw (a hidden field); absent → None."""
    value = params.integer(data, "upto", default=-1, minimum=0, maximum=2**63 - 1)
    return None if value < 0 else value


def _json_path(data: QueryDict) -> str:
    """The expression as given, once it parses: an unreadable one is refused here, where it can
    be named, not later when the preview or the job runs the search."""
    raw = params.text(data, "json_path", max_length=JSON_PATH_MAX)
    try:
        json_path_parse(raw)
    except CriteriaError as err:
        raise params.ParamError("json_path", str(err)) from None
    return raw


class SelectionForm(KeyedForm):
    def __init__(self, data: QueryDict, *args, **kwargs) -> None:
        super().__init__(data, *args, **kwargs)
        self.selection: RedriveSelection | None = None
        # Set when the selection itself cannot be read: the view then offers no form at all.
        self.selection_error = ""
        self._raw = data

    def clean(self):
        cleaned = super().clean()
        try:
            self.selection = selection_from(self._raw)
        except params.ParamError as err:
            self.selection_error = str(err)
            raise forms.ValidationError(str(err)) from err
        return cleaned


class RedriveForm(SelectionForm):
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], required=False,
                               error_messages={"invalid_choice": "method: choose loop or move."})
    velocity = forms.IntegerField(
        min_value=1, max_value=MOVE_VELOCITY_MAX, required=False,
        error_messages={"invalid": "velocity: a whole number of messages per second.",
                        "min_value": "velocity: at least 1 message per second.",
                        "max_value": f"velocity: SQS moves at most {MOVE_VELOCITY_MAX} messages per second."},
    )


class TypedConfirmForm(SelectionForm):
    confirm_name = forms.CharField(max_length=200, required=False)
