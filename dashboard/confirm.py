"""What every confirm page's view passes to templates/dashboard/confirm.html."""

from __future__ import annotations

import uuid


def confirm_context(*, action_url: str, cancel_url: str, **extra) -> dict:
    """The form's target, where "cancel" leads, and a fresh idempotency key: one per rendering,
    so the two POSTs of a double click carry the same key and act once."""
    return {"confirm_action": action_url, "cancel_url": cancel_url, "idempotency_key": uuid.uuid4().hex, **extra}
