"""Moving the test database to a migration state, for the data-migration tests."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets):
    """Apply or unapply migrations up to ``targets``; the app registry as of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    """Back to the newest migrations, so the next test finds the schema it expects."""
    migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes("ops"))


def two_functions(apps, *, now):
    """An account with two functions, orders and mailer, as the models were at that state."""
    account = apps.get_model("ops", "Account").objects.create(name="prod", account_id="123456789012", regions=["us-east-1"])
    Function = apps.get_model("ops", "Function")
    fields = {"account": account, "region": "us-east-1", "memory_mb": 128, "timeout_s": 3, "last_seen": now}
    return account, tuple(
        Function.objects.create(name=name, arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}", **fields)
        for name in ("orders", "mailer")
    )
