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
