"""Which versions a metrics run reads, and through which alias."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from ops.models import SeriesKind
from ops.pollers.metrics.targets import build_targets
from tests.factories import AliasChangeFactory, AliasFactory, FunctionFactory, function_series, minutes

pytestmark = pytest.mark.django_db


def _version_reads(fn) -> dict[str, set[str]]:
    """version → the Resource (alias) each of its queries goes through."""
    (target, _scope) = build_targets(SimpleNamespace(region=fn.region), [fn], percentiles=[])
    out: dict[str, set[str]] = {}
    for q in target.queries:
        dims = dict(q.dimensions)
        if "ExecutedVersion" in dims:
            out.setdefault(dims["ExecutedVersion"], set()).add(dims["Resource"])
    return out


def test_every_version_an_alias_points_to_is_read_not_only_weighted_ones():
    fn = FunctionFactory(name="checkout-api")
    AliasFactory(function=fn, name="live", version="9", weights={})
    assert _version_reads(fn) == {"9": {"checkout-api:live"}}


def test_versions_from_the_alias_history_are_read_too():
    fn = FunctionFactory(name="checkout-api")
    live = AliasFactory(function=fn, name="live", version="9", weights={})
    AliasChangeFactory(alias=live, at=timezone.now() - timedelta(minutes=5), from_version="7", from_weights={"8": 0.1},
                       to_version="9")
    AliasChangeFactory(alias=live, at=timezone.now() - timedelta(days=3), from_version="5", to_version="7")
    assert _version_reads(fn) == {v: {"checkout-api:live"} for v in ("9", "7", "8")}  # v5 left over a day ago


def test_a_version_behind_two_aliases_is_read_through_the_one_carrying_traffic():
    fn = FunctionFactory(name="checkout-api")
    AliasFactory(function=fn, name="canary", version="8", weights={})
    AliasFactory(function=fn, name="live", version="7", weights={"8": 0.1})
    # no traffic known yet: the weighted alias first
    assert _version_reads(fn) == {"7": {"checkout-api:live"}, "8": {"checkout-api:live"}}
    minutes(function_series(fn, kind=SeriesKind.ALIAS, qualifier="canary"), start=timezone.now() - timedelta(minutes=30),
            count=10, invocations=50)
    assert _version_reads(fn)["8"] == {"checkout-api:canary"}
