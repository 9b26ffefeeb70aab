"""Shared set-up for the benchmarks: Django on the DATABASE_URL given (migrated), a scratch estate."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.pop("AWS_ENDPOINT_URL", None)


def django_ready() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def scratch_estate(*, functions: int, account_id: str = "999999999999"):
    """A fresh account with ``functions`` functions (previous bench data removed)."""
    from django.utils import timezone

    from ops.models import Account, Function

    Account.objects.filter(account_id=account_id).delete()
    account = Account.objects.create(name=f"bench-{account_id}", account_id=account_id, regions=["us-east-1"])
    now = timezone.now()
    Function.objects.bulk_create(
        [
            Function(
                account=account,
                region="us-east-1",
                name=f"bench-fn-{i:05d}",
                arn=f"arn:aws:lambda:us-east-1:{account_id}:function:bench-fn-{i:05d}",
                memory_mb=512,
                timeout_s=30,
                last_seen=now,
            )
            for i in range(functions)
        ]
    )
    return account
