"""The state machine on its own: M of N, each treat-missing-data mode, the state path."""

from __future__ import annotations

import pytest

from ops.alerts.judge import FIRING, OK, PENDING, RESOLVED, Criteria, judge, state_next

B, G, X = True, False, None  # breaching, good, missing


def crit(missing="missing", m=3, n=5, **kw) -> Criteria:
    return Criteria(comparison="gt", threshold=5.0, m=m, n=n, missing=missing, **kw)


def test_m_of_n_path_ok_pending_firing_resolved_then_pending_again():
    c = crit()
    assert state_next(OK, [G, G, G, G, B], c) == (PENDING, 1)
    assert state_next(PENDING, [G, G, G, B, B], c) == (PENDING, 2)
    assert state_next(PENDING, [G, G, B, B, B], c) == (FIRING, 3)
    assert state_next(FIRING, [G, B, G, B, B], c) == (FIRING, 3)
    # fewer than M of N: the alarm condition no longer holds
    assert state_next(FIRING, [B, G, B, G, G], c) == (RESOLVED, 2)
    assert state_next(RESOLVED, [G, G, G, G, G], c) == (RESOLVED, 0)  # rests until the next breach
    assert state_next(RESOLVED, [G, G, G, G, B], c) == (PENDING, 1)
    assert state_next(PENDING, [G, G, G, G, G], c) == (OK, 0)
    assert state_next(OK, [B, B, B, G, G], c) == (FIRING, 3)  # M at once skips pending


@pytest.mark.parametrize(
    ("mode", "current", "marks", "expected"),
    [
        # missing: left out; with two present and both breaching, 2 < M = 3 → pending
        ("missing", OK, [X, X, X, B, B], (PENDING, 2)),
        ("missing", FIRING, [X, X, X, X, X], (RESOLVED, 0)),
        ("missing", PENDING, [X, X, X, X, X], (OK, 0)),
        # breaching: every missing window counts against
        ("breaching", OK, [X, X, G, G, B], (FIRING, 3)),
        # not breaching: every missing window counts as good
        ("not_breaching", FIRING, [X, X, X, B, B], (RESOLVED, 2)),
        ("not_breaching", OK, [B, X, B, X, B], (FIRING, 3)),
        # ignore: newest missing keeps the state, whatever came before
        ("ignore", FIRING, [G, G, G, G, X], (FIRING, 0)),
        ("ignore", OK, [B, B, B, B, X], (OK, 4)),
        ("ignore", FIRING, [X, X, X, X, X], (FIRING, 0)),
        # ignore with the newest present: the missing ones are left out
        ("ignore", OK, [B, X, B, X, B], (FIRING, 3)),
    ],
)
def test_missing_data_modes(mode, current, marks, expected):
    assert state_next(current, marks, crit(missing=mode)) == expected


def test_values_compare_and_the_volume_floor_applies():
    c = Criteria(comparison="gte", threshold=5.0, m=1, n=2, missing="not_breaching", min_volume=5)
    # 50 % of 2 calls (1 error) is not a breach: fewer than 5 errors
    assert judge(OK, [10.0, 50.0], [1, 1], c).state == OK
    v = judge(OK, [1.0, 6.0], [1, 6], c)
    assert (v.state, v.breaching, v.value) == (FIRING, 1, 6.0)
    below = Criteria(comparison="lt", threshold=10.0, m=2, n=2, missing="missing")
    assert judge(OK, [9.9, 5.0], None, below).state == FIRING
    assert judge(OK, [10.0, 5.0], None, below).state == PENDING
