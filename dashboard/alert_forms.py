"""The alert rule form: parses and bounds a rule, and refuses one that is impossible or can never
be what the operator meant, with a message saying which field and why."""

from __future__ import annotations

from django import forms

from ops.models import Account, AlertRule, Alias, Channel, Function
from ops.models.choices import AlertComparison, AlertScope, AlertSignal

MAX_WINDOWS = 60  # the evaluator reads at most an hour of minutes per rule
# Signals measured in percent: a threshold outside 0–100 can never be met (or always is).
PERCENT_SIGNALS = {AlertSignal.ERROR_RATE, AlertSignal.P99_OF_TIMEOUT, AlertSignal.COLD_START_RATE,
                   AlertSignal.CONCURRENCY, AlertSignal.REGION_HEADROOM}
# Signals that are counts or amounts: never below 0.
NON_NEGATIVE = {AlertSignal.ERRORS, AlertSignal.THROTTLES, AlertSignal.ITERATOR_AGE, AlertSignal.ASYNC_EVENTS_DROPPED,
                AlertSignal.DEAD_LETTER_ERRORS, AlertSignal.DLQ_DEPTH, AlertSignal.DLQ_NEW_MESSAGES,
                AlertSignal.DAILY_COST}
NOT_PER_FUNCTION = {AlertSignal.REGION_HEADROOM, AlertSignal.POLLER_FAILING}
# The ratio signals whose volume floor means something (ops.rules.signals: volume column).
VOLUME_OF = {AlertSignal.ERROR_RATE: "errors", AlertSignal.COLD_START_RATE: "REPORT lines (invocations logged)"}
UNITS = {
    AlertSignal.ERRORS: "errors per minute", AlertSignal.ERROR_RATE: "% of invocations",
    AlertSignal.THROTTLES: "throttles per minute", AlertSignal.P99_OF_TIMEOUT: "% of the timeout",
    AlertSignal.COLD_START_RATE: "% of invocations", AlertSignal.CONCURRENCY: "% of its limit",
    AlertSignal.ITERATOR_AGE: "ms", AlertSignal.ASYNC_EVENTS_DROPPED: "events per minute",
    AlertSignal.DEAD_LETTER_ERRORS: "per minute", AlertSignal.DLQ_DEPTH: "messages",
    AlertSignal.DLQ_NEW_MESSAGES: "new messages per minute", AlertSignal.DAILY_COST: "USD since 00:00 UTC",
    AlertSignal.REGION_HEADROOM: "% of the account limit left", AlertSignal.POLLER_FAILING: "1 = failing",
}


class AlertRuleForm(forms.ModelForm):
    function = forms.ModelChoiceField(queryset=Function.objects.filter(gone_at__isnull=True).select_related("account")
                                      .order_by("account__name", "region", "name"), required=False)
    account = forms.ModelChoiceField(queryset=Account.objects.order_by("name"), required=False)
    channels = forms.ModelMultipleChoiceField(queryset=Channel.objects.order_by("name"), required=False,
                                              widget=forms.SelectMultiple(attrs={"size": 4}))
    auto_rollback_alias = forms.ModelChoiceField(
        queryset=Alias.objects.filter(gone_at__isnull=True).select_related("function").order_by("function__name", "name"),
        required=False, label="Roll back this alias")

    class Meta:
        model = AlertRule
        fields = ["name", "signal", "scope", "function", "account", "region", "tag_key", "tag_value", "comparison",
                  "threshold", "min_volume", "windows_m", "windows_n", "missing_data", "severity", "channels",
                  "enabled", "group_wait_s", "group_interval_s", "repeat_interval_s", "auto_rollback_alias",
                  "auto_rollback_minutes"]
        labels = {"windows_m": "M (breaching windows)", "windows_n": "of N one-minute windows",
                  "min_volume": "Least volume per minute", "missing_data": "Treat missing data as",
                  "group_wait_s": "Group wait (s)", "group_interval_s": "Group interval (s)",
                  "repeat_interval_s": "Repeat while firing every (s)", "auto_rollback_minutes": "…when it fires within (minutes of a deploy)"}
        error_messages = {
            "threshold": {"required": "Give a threshold (a number).", "invalid": "The threshold must be a number."},
            "windows_m": {"invalid": "M must be a whole number."},
            "windows_n": {"invalid": "N must be a whole number."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["function"].label_from_instance = lambda f: f"{f.account.name}/{f.region}/{f.name}"
        self.fields["auto_rollback_alias"].label_from_instance = lambda a: f"{a.function.name}:{a.name}"
        for name in ("windows_m", "windows_n", "group_wait_s", "group_interval_s", "repeat_interval_s",
                     "auto_rollback_minutes"):
            # Our own messages below; the browser's min/max would hide them behind its own.
            self.fields[name].widget.attrs.pop("min", None)

    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return ""

    def clean(self):
        data = super().clean()
        signal, scope = data.get("signal"), data.get("scope")
        m, n, threshold = data.get("windows_m"), data.get("windows_n"), data.get("threshold")
        comparison = data.get("comparison")
        if n is not None and not 1 <= n <= MAX_WINDOWS:
            self.add_error("windows_n", f"N must be between 1 and {MAX_WINDOWS} one-minute windows (got {n}).")
        if m is not None and m < 1:
            self.add_error("windows_m", "M must be at least 1 breaching window.")
        if m is not None and n is not None and m > n:
            self.add_error("windows_m", f"M ({m}) cannot exceed N ({n}): at most {n} of the last {n} windows can breach.")
        if threshold is not None and signal:
            if signal in PERCENT_SIGNALS and not 0 <= threshold <= 100:
                self.add_error("threshold", f"{AlertSignal(signal).label} is a percentage: the threshold must be "
                                            f"between 0 and 100 (got {threshold:g}).")
            elif signal in NON_NEGATIVE and threshold < 0:
                self.add_error("threshold", f"{AlertSignal(signal).label} is never negative: the threshold must be "
                                            f"0 or more (got {threshold:g}).")
            elif signal == AlertSignal.POLLER_FAILING and threshold not in (0, 1):
                self.add_error("threshold", "A poller failing is 1 (failing) or 0 (not): use ≥ 1 as the threshold.")
            if (comparison == AlertComparison.LT and threshold <= 0
                    and (signal in PERCENT_SIGNALS or signal in NON_NEGATIVE)):
                self.add_error("threshold", f"“< {threshold:g}” can never be true: {AlertSignal(signal).label} "
                                            "is never below 0.")
        if data.get("min_volume") is not None:
            if data["min_volume"] < 0:
                self.add_error("min_volume", "The least volume cannot be negative.")
            elif signal and signal not in VOLUME_OF:
                self.add_error("min_volume", "Only the error rate and the cold-start rate take a least volume; leave "
                                             "it empty for this signal.")
        self._clean_scope(data, signal, scope)
        self._clean_rollback(data, signal, scope)
        for name, low, high in (("group_wait_s", 0, 3600), ("group_interval_s", 1, 86400),
                                ("repeat_interval_s", 60, 7 * 86400)):
            v = data.get(name)
            if v is not None and not low <= v <= high:
                self.add_error(name, f"Must be between {low:,} and {high:,} seconds (got {v:,}).")
        return data

    def _clean_scope(self, data, signal, scope):
        if scope == AlertScope.FUNCTION and not data.get("function"):
            self.add_error("function", "Choose the function this rule watches (the scope is “one function”).")
        if scope == AlertScope.TAG and not (data.get("tag_key") or "").strip():
            self.add_error("tag_key", "A tag scope needs a tag key (e.g. team); the value may be left empty to "
                                      "match any value.")
        if scope in (AlertScope.ACCOUNT, AlertScope.REGION) and not data.get("account"):
            self.add_error("account", "Choose the account this rule watches.")
        if scope == AlertScope.REGION:
            region, account = (data.get("region") or "").strip(), data.get("account")
            if not region:
                self.add_error("region", "An account × region scope needs a region (e.g. us-east-1).")
            elif account and region not in (account.regions or []):
                self.add_error("region", f"{account.name} is not configured for {region} "
                                         f"(its regions: {', '.join(account.regions) or 'none'}).")
        if signal in NOT_PER_FUNCTION and scope in (AlertScope.FUNCTION, AlertScope.TAG):
            self.add_error("scope", f"{AlertSignal(signal).label} is not about one function: scope it to all, an "
                                    "account or an account × region.")
        # Fields of another scope are cleared, so a stale function or tag never narrows the rule.
        keep = {AlertScope.FUNCTION: {"function"}, AlertScope.TAG: {"tag_key", "tag_value"},
                AlertScope.ACCOUNT: {"account"}, AlertScope.REGION: {"account", "region"}}.get(scope, set())
        for name, empty in (("function", None), ("account", None), ("region", ""), ("tag_key", ""), ("tag_value", "")):
            if name not in keep:
                data[name] = empty
        for name in ("tag_key", "tag_value", "region"):
            data[name] = (data.get(name) or "").strip()

    def _clean_rollback(self, data, signal, scope):
        alias = data.get("auto_rollback_alias")
        minutes = data.get("auto_rollback_minutes")
        if minutes is not None and not 1 <= minutes <= 24 * 60:
            self.add_error("auto_rollback_minutes", "Between 1 and 1,440 minutes (a day) after a deploy.")
        if alias is None:
            return
        if scope != AlertScope.FUNCTION or signal in NOT_PER_FUNCTION:
            self.add_error("auto_rollback_alias", "Automatic rollback needs a rule scoped to one function (it rolls "
                                                  "back that function's alias).")
        elif data.get("function") and alias.function_id != data["function"].pk:
            self.add_error("auto_rollback_alias", f"Alias {alias.function.name}:{alias.name} is not an alias of "
                                                  f"{data['function'].name}, the function this rule watches.")


def rollback_sentence(*, alias: Alias | None, minutes: int | None, rule_name: str = "this rule") -> str:
    """What the opt-in does, exactly (shown next to the fields and on the rule page)."""
    if alias is None:
        return "Off: this rule never rolls anything back."
    return (f"When {rule_name} fires within {minutes} minutes after a deploy of alias {alias.function.name}:{alias.name}, "
            f"Lambda Ops points {alias.name} back at the version it pointed at before that deploy (the same rollback "
            f"job as the rollback button: the same guard and verification), within one evaluation tick, records it "
            f"on the incident's timeline and says so in the notification. It does nothing when the rule fires more "
            f"than {minutes} minutes after the last deploy.")
