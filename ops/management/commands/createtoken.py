from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from ops.services.api_tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USER (read-only JSON API). The token is printed once; only its hash is kept."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'grafana'")

    def handle(self, *args, username, name, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user {username!r}; create one with manage.py createuser") from None
        token, raw = api_token_create(user=user, name=name, actor="cli")
        self.stderr.write(f"token {token.prefix}… for {user.username} created; it is shown only now:")
        self.stdout.write(raw)
