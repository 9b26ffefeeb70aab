from django.core.management.base import BaseCommand, CommandError

from ops.models import Role
from ops.services.users import user_create


class Command(BaseCommand):
    help = "Create (or reset) a Lambda Ops user with a role: viewer reads, operator may act."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, default=Role.VIEWER)
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--admin", action="store_true", help="also grant Django admin (accounts, users)")

    def handle(self, *args, username, role, password, email, admin, **options):
        if len(password) < 8:
            raise CommandError("--password must be at least 8 characters")
        user = user_create(username=username, password=password, role=role, email=email, admin=admin, actor="cli")
        self.stdout.write(f"user {user.username} ({role}{', admin' if admin else ''}) ready")
