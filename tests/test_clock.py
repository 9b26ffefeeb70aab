"""The suite's second run really is 60 days ahead: Python's clock against the Postgres server's.

``make test`` runs the clock-dependent tests again under libfaketime (``FAKETIME`` set, the
Python process shifted, the database server not). If that shift silently stopped working, the
second run would prove nothing; this test fails then. In the ordinary run both clocks agree.
"""

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _offset() -> timedelta:
    with connection.cursor() as cur:
        cur.execute("SELECT now()")
        database_now = cur.fetchone()[0]
    return timezone.now() - database_now


def test_the_clock_is_where_the_run_says_it_is():
    shift = os.environ.get("FAKETIME", "")
    if "faketime" in os.environ.get("LD_PRELOAD", "") and shift:
        assert shift == "+5184000"  # what `faketime '+60 days'` sets: 60 × 86,400 s
        assert timedelta(days=60) - timedelta(minutes=5) < _offset() < timedelta(days=60) + timedelta(minutes=5)
    else:
        assert abs(_offset()) < timedelta(minutes=5)
