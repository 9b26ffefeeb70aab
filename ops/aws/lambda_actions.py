"""Lambda calls that change something or invoke: what the product's actions (rollback, canary,
emergency controls, DLQ re-delivery by async invoke) send to AWS. Reads stay in ops.aws.lambda_."""

from __future__ import annotations
