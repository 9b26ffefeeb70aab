"""The accounts page's form: parse and bound what an admin types; the check and the save are
ops.services.permissions.account_save_checked's."""

from __future__ import annotations

import re

from django import forms

from ops.aws.regions import lambda_regions

ACCOUNT_ID = re.compile(r"^\d{12}$")
ROLE_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


class AccountForm(forms.Form):
    name = forms.RegexField(regex=r"^[\w.-]{1,64}$", max_length=64,
                            error_messages={"invalid": "A name is up to 64 letters, digits, dots, dashes or underscores."})
    account_id = forms.CharField(max_length=64, label="Account id")
    role_arn = forms.CharField(max_length=2048, required=False, label="Role ARN",
                               help_text="Empty: the credentials Lambda Ops runs with (same account).")
    external_id = forms.CharField(max_length=1224, required=False, label="External id")
    regions = forms.CharField(max_length=1000, help_text="Comma- or space-separated, e.g. us-east-1, eu-west-1.")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            # Another account id is another account: add it, rather than re-point this one's history.
            self.fields["account_id"].disabled = True

    def clean_account_id(self) -> str:
        value = self.cleaned_data["account_id"].strip()
        if not ACCOUNT_ID.match(value):
            raise forms.ValidationError(f"An AWS account id is 12 digits; {value[:40]!r} is not.")
        return value

    def clean_external_id(self) -> str:
        value = self.cleaned_data["external_id"].strip()
        if value and not EXTERNAL_ID.match(value):
            raise forms.ValidationError("An external id is 2 to 1,224 letters, digits or any of + = , . @ : / - _.")
        return value

    def clean_regions(self) -> list[str]:
        names = [r for r in re.split(r"[\s,]+", self.cleaned_data["regions"].strip().lower()) if r]
        if not names:
            raise forms.ValidationError("Give at least one region.")
        unknown = [r for r in names if r not in lambda_regions()]
        if unknown:
            raise forms.ValidationError(f"Not an AWS region: {', '.join(sorted(set(unknown)))[:200]}.")
        return sorted(set(names))

    def clean(self):
        data = super().clean()
        role = (data.get("role_arn") or "").strip()
        data["role_arn"] = role
        if role:
            m = ROLE_ARN.match(role)
            if not m:
                self.add_error("role_arn", "Not an IAM role ARN (arn:aws:iam::123456789012:role/NAME).")
            elif data.get("account_id") and m.group(2) != data["account_id"]:
                self.add_error("role_arn", f"The role is in account {m.group(2)}, not {data['account_id']}: "
                                           "the role to assume lives in the account it reads.")
        elif data.get("external_id"):
            self.add_error("external_id", "An external id goes with a role ARN; without a role it is never sent.")
        return data

    def first_error(self) -> str:
        for name, errors in self.errors.items():
            return f"{name}: {errors[0]}" if name != "__all__" else errors[0]
        return ""
