"""manage.py token create|list|revoke: API tokens from the command line (audited as "cli")."""

import re
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ops.models.api import ApiToken
from ops.selectors.api_tokens import api_token_find, api_token_list
from ops.selectors.timerange import parse_instant
from ops.services.api_tokens import api_token_create, api_token_revoke
from ops.timefmt import minute_utc

ACTOR = "cli"
_DURATION = re.compile(r"([1-9][0-9]{0,4})([hd])")


def _when(dt) -> str:
    return minute_utc(dt) if dt else "-"


def _expiry(*, expires: str, expires_in: str):
    if expires and expires_in:
        raise CommandError("give --expires or --expires-in, not both")
    if expires_in:
        match = _DURATION.fullmatch(expires_in.strip())
        if not match:
            raise CommandError(f"--expires-in: expected a number of hours or days, e.g. 12h or 90d; got {expires_in!r}")
        n, unit = int(match[1]), match[2]
        return timezone.now() + (timedelta(hours=n) if unit == "h" else timedelta(days=n))
    if expires:
        at = parse_instant(expires)
        if at is None:
            raise CommandError(f"--expires: expected an ISO 8601 time, e.g. 2027-03-01T00:00:00Z; got {expires!r}")
        if at <= timezone.now():
            raise CommandError("--expires: that time has passed")
        return at
    return None


class Command(BaseCommand):
    help = "Create, list or revoke API tokens for the read-only JSON API. A token is printed once; only its hash is kept."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token for USER and print it (once)")
        create.add_argument("username")
        create.add_argument("--name", default="", help="what the token is for, e.g. 'grafana'")
        create.add_argument("--expires-in", default="", help="e.g. 12h or 90d (default: no expiry)")
        create.add_argument("--expires", default="", help="an ISO 8601 time, e.g. 2027-03-01T00:00:00Z")
        ls = sub.add_parser("list", help="list tokens (never the secret): id, prefix, user, name, state, dates")
        ls.add_argument("--user", default="", help="only this user's tokens")
        revoke = sub.add_parser("revoke", help="revoke a token by id or prefix (as list shows them)")
        revoke.add_argument("token")

    def handle(self, *args, action, **opts):
        getattr(self, f"_{action}")(**opts)

    def _create(self, *, username, name, expires_in, expires, **_):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user {username!r}; create one with manage.py createuser") from None
        expires_at = _expiry(expires=expires, expires_in=expires_in)
        token, raw = api_token_create(user=user, name=name, expires_at=expires_at, actor=ACTOR)
        until = f", expires {_when(expires_at)}" if expires_at else ""
        self.stderr.write(f"token {token.prefix}… (id {token.pk}) for {user.username} created{until}; it is shown only now:")
        self.stdout.write(raw)

    def _list(self, *, user, **_):
        now = timezone.now()
        self.stdout.write("id\tprefix\tuser\tname\tstate\tcreated\tlast used\texpires")
        for t in api_token_list(username=user):
            self.stdout.write(
                f"{t.pk}\t{t.prefix}…\t{t.user.username}\t{t.name or '-'}\t{t.state(now=now)}\t"
                f"{_when(t.created_at)}\t{_when(t.last_used_at)}\t{_when(t.expires_at)}"
            )

    def _revoke(self, *, token, **_):
        try:
            found = api_token_find(ref=token)
        except ApiToken.DoesNotExist:
            raise CommandError(f"no token {token!r}; manage.py token list shows ids and prefixes") from None
        except ApiToken.MultipleObjectsReturned:
            raise CommandError(f"more than one token starts {token!r}; revoke it by id") from None
        if api_token_revoke(token=found, actor=ACTOR):
            self.stdout.write(f"token {found.prefix}… (id {found.pk}, {found.user.username}) revoked")
        else:
            self.stdout.write(f"token {found.prefix}… (id {found.pk}) was already revoked")
