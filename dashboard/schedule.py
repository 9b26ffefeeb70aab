"""Celery beat schedule, in code. Each entry says why it runs when it does."""

from django.conf import settings


def beat_schedule() -> dict:
    return {
        # Inventory changes with deploys; a few minutes' lag is fine and keeps Lambda's
        # control-plane API (15 rps) far from its limit.
        "inventory": {
            "task": "ops.tasks.poll_inventory_all",
            "schedule": float(settings.INVENTORY_POLL_SECONDS),
        },
    }
