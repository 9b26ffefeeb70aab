"""The JSON API's answers for a fixed estate, compared with answers recorded before a refactor.

The estate (``tests/estate.py``) is written relative to now; every timestamp in an
answer is turned into its offset from the estate's minute ("now-35m") and every id into a
name, so the recorded answers hold whatever the date. A refactor that changes one number, one
reason's wording or one on-fire verdict fails here. To record new answers after a change that
is meant to change them:
``LAMBDAOPS_RECORD_GOLDEN=1 .venv/bin/python -m pytest tests/dashboard/views/test_api_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.estate import _build

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).with_name("golden") / "api_answers.json"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SERIES = ("invocations", "errors", "error_rate", "cost", "duration_p99", "cold_starts", "concurrency_max", "billed_gb_s")


def _fixed_phase_now() -> datetime:
    """The latest 12:30:20 UTC at or before now. Buckets are aligned to the epoch (10-minute
    onsets at 24 h, hourly at 7 d, 6-hour trends), so an answer depends on where now falls in the
    day; pinning the clock's phase makes every run read the same buckets."""
    real = timezone.now()
    at = real.replace(hour=12, minute=30, second=20, microsecond=0)
    return at if at <= real else at - timedelta(days=1)


def _relative(value, anchor: datetime):
    if isinstance(value, dict):
        return {k: _relative(v, anchor) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, anchor) for v in value]
    if isinstance(value, str) and ISO.match(value):
        at = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        seconds = int((at - anchor).total_seconds())
        return f"now{seconds:+d}s"
    if isinstance(value, float):
        return round(value, 9)
    return value


def _answers(client, estate) -> dict:
    anchor = estate.now.replace(second=0, microsecond=0)
    ids = {estate.bad.pk: "bad", estate.ok.pk: "ok", estate.throttled.pk: "throttled"}
    out: dict = {}

    def get(url, params):
        resp = client.get(url, params)
        assert resp.status_code == 200, (url, params, resp.content[:300])
        body = resp.json()
        return _relative(body, anchor)

    for rng in ("1h", "6h", "24h", "7d"):
        for sort in ("-error_rate", "name", "-cost"):
            body = get(reverse("api-fleet"), {"range": rng, "sort": sort})
            for row in body["functions"] + body["on_fire"]:
                row["id"] = ids[row["id"]]
            out[f"fleet {rng} {sort}"] = body
    for pk, name in ids.items():
        for rng in ("1h", "6h", "24h"):
            body = get(reverse("api-function", args=[pk]), {"range": rng})
            body["function"]["id"] = name
            out[f"function {name} {rng}"] = body
        for metric in SERIES:
            for rng in ("1h", "6h"):
                out[f"series {name} {metric} {rng}"] = get(
                    reverse("api-function-series", args=[pk]), {"metric": metric, "range": rng}
                )
    return out


def test_api_answers_equal_the_recorded_ones(client_in, monkeypatch):
    at = _fixed_phase_now()
    # Every read-side "now" is django.utils.timezone.now (no SQL now() on the read side).
    monkeypatch.setattr(timezone, "now", lambda: at)
    estate = _build(at)
    answers = _answers(client_in, estate)
    if os.environ.get("LAMBDAOPS_RECORD_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(answers, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    recorded = json.loads(GOLDEN.read_text())
    assert sorted(answers) == sorted(recorded)
    for key in recorded:
        assert answers[key] == recorded[key], key
