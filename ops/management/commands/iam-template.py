"""manage.py iam-template: print the CloudFormation template for the cross-account role (the
same as deploy/iam/lambda-ops-role.json, which a test keeps equal to this output)."""

from django.core.management.base import BaseCommand

from ops.aws.permissions.policy import template_json


class Command(BaseCommand):
    help = "Print the CloudFormation template that creates Lambda Ops' cross-account role (with an external id)."

    def handle(self, *args, **opts):
        self.stdout.write(template_json(), ending="")
