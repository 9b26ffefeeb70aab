import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ops.models import Account
from ops.selectors.inventory import account_list
from ops.services.accounts import account_disable, account_upsert

ACTOR = "cli"  # the audit log's actor for changes made from the command line


class Command(BaseCommand):
    help = "Add, update, list or disable monitored AWS accounts."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add or update an account")
        add.add_argument("name")
        add.add_argument("--account-id", required=True)
        add.add_argument("--regions", required=True, help="comma-separated, e.g. us-east-1,eu-west-1")
        add.add_argument("--role-arn", default="")
        add.add_argument("--external-id", default="")
        imp = sub.add_parser("import", help='add or update accounts from JSON: [{"name", "account_id", "regions", "role_arn"?, "external_id"?}] or {"accounts": [...]}')
        imp.add_argument("file", help="a JSON file, or - for standard input")
        sub.add_parser("list", help="list accounts")
        disable = sub.add_parser("disable", help="stop polling an account (keeps its history)")
        disable.add_argument("name")
        check = sub.add_parser("check", help="run the permission check now and print what is granted or denied")
        check.add_argument("name")

    def handle(self, *args, action, **opts):
        if action == "list":
            for a in account_list():
                state = "enabled" if a.enabled else "disabled"
                self.stdout.write(f"{a.name}\t{a.account_id}\t{','.join(a.regions)}\t{a.role_arn or '-'}\t{state}")
            return
        if action == "import":
            self._import(opts["file"])
            return
        if action == "check":
            self._check(opts["name"])
            return
        if action == "disable":
            try:
                account_disable(name=opts["name"], actor=ACTOR)
            except Account.DoesNotExist:
                raise CommandError(f"no account named {opts['name']!r}") from None
            self.stdout.write(f"account {opts['name']} disabled")
            return
        regions = [r.strip() for r in opts["regions"].split(",") if r.strip()]
        self._add(
            name=opts["name"],
            account_id=opts["account_id"],
            regions=regions,
            role_arn=opts["role_arn"],
            external_id=opts["external_id"],
        )

    def _add(self, **fields) -> None:
        try:
            account = account_upsert(**fields, actor=ACTOR)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"account {account.name} ({account.account_id}) polls {', '.join(account.regions)}")

    def _import(self, path: str) -> None:
        try:
            raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
            entries = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read accounts from {path}: {exc}") from None
        if isinstance(entries, dict) and isinstance(entries.get("accounts"), list):
            entries = entries["accounts"]
        if not isinstance(entries, list):
            raise CommandError('expected a JSON list of accounts, or {"accounts": [...]}')
        for i, entry in enumerate(entries):
            try:
                regions = entry["regions"]
                fields = {
                    "name": str(entry["name"]),
                    "account_id": str(entry["account_id"]),
                    "regions": [regions] if isinstance(regions, str) else list(regions),
                    "role_arn": str(entry.get("role_arn") or ""),
                    "external_id": str(entry.get("external_id") or ""),
                }
            except (KeyError, TypeError) as exc:
                raise CommandError(f"account #{i + 1}: missing or bad field {exc}") from None
            self._add(**fields)

    def _check(self, name: str) -> None:
        from ops.selectors.permissions import permission_tables
        from ops.services.permissions import permission_check

        account = Account.objects.filter(name=name).first()
        if account is None:
            raise CommandError(f"no account named {name!r}")
        report = permission_check(account=account, actor=ACTOR)
        for region, rows in permission_tables(account=account):
            for row in rows:
                why = f"\t{row.code}\t{row.needs[0].without}" if row.state != "granted" and row.needs else ""
                self.stdout.write(f"{region}\t{row.action}\t{row.state_label}{why}")
        if not report.ok:
            raise CommandError("; ".join(report.problems()))
