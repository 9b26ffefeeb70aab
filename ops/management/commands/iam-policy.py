"""manage.py iam-policy --read-only|--operator|--assumer: print an IAM policy generated from the
permission table (ops/aws/permissions), exactly the calls the product makes."""

import re

from django.core.management.base import BaseCommand, CommandError

from ops.aws.permissions import ASSUMER, OPERATOR, READ_ONLY
from ops.aws.permissions.policy import policy_json

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,64}$")


class Command(BaseCommand):
    help = ("Print the least-privilege IAM policy: --read-only (monitoring), --operator (actions, attached "
            "with the read-only one) or --assumer (for the identity Lambda Ops runs as).")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--read-only", dest="policy", action="store_const", const=READ_ONLY)
        which.add_argument("--operator", dest="policy", action="store_const", const=OPERATOR)
        which.add_argument("--assumer", dest="policy", action="store_const", const=ASSUMER)
        parser.add_argument("--account-id", default="*", help="narrow ARNs to this account (default: any)")
        parser.add_argument("--region", default="*", help="narrow ARNs to this region (default: any)")
        parser.add_argument("--partition", default="aws", choices=["aws", "aws-cn", "aws-us-gov"])
        parser.add_argument("--role-arn", action="append", default=[],
                            help="with --assumer: a role it may assume (repeat; default arn:aws:iam::*:role/LambdaOps*)")

    def handle(self, *args, policy, account_id, region, partition, role_arn, **opts):
        if account_id != "*" and not _ACCOUNT.match(account_id):
            raise CommandError(f"--account-id: expected 12 digits, got {account_id!r}")
        if region != "*" and not _REGION.match(region):
            raise CommandError(f"--region: not an AWS region name (e.g. us-east-1): {region!r}")
        for arn in role_arn:
            if not _ROLE.match(arn):
                raise CommandError(f"--role-arn: not an IAM role ARN (arn:aws:iam::123456789012:role/NAME): {arn!r}")
        if role_arn and policy != ASSUMER:
            raise CommandError("--role-arn goes with --assumer")
        self.stdout.write(policy_json(policy, account=account_id, region=region, partition=partition,
                                      role_arns=role_arn or None), ending="")
