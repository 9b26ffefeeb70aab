"""UpdateAlias as AWS answers it (a new RevisionId each time, stale ones refused, missing versions
refused) and traffic that follows live reserved concurrency and event source state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from sandbox import testing
from test_sandbox_lambda import create, lam  # noqa: F401  (the fixture)


def _versions(lam, name, n):  # noqa: F811
    create(lam, name)
    for i in range(n):
        lam.update_function_configuration(FunctionName=name, Description=f"build {i}")
        lam.publish_version(FunctionName=name, Description=f"build {i}")


def test_every_update_gets_a_new_revision_and_a_stale_one_is_refused(lam):  # noqa: F811
    _versions(lam, "fn", 3)
    first = lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")["RevisionId"]
    moved = lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="2", RevisionId=first)
    assert moved["FunctionVersion"] == "2" and moved["RevisionId"] != first
    assert lam.get_alias(FunctionName="fn", Name="live")["RevisionId"] == moved["RevisionId"]
    with pytest.raises(ClientError) as err:
        lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="1", RevisionId=first)
    assert err.value.response["Error"]["Code"] == "PreconditionFailedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert lam.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "2"  # untouched


def test_routing_to_a_missing_version_is_refused_and_empty_weights_clear_it(lam):  # noqa: F811
    _versions(lam, "fn", 2)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as err:
        lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"9": 0.1}})
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="7")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
    assert lam.get_alias(FunctionName="fn", Name="live")["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.2}
    cleared = lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared or not cleared["RoutingConfig"].get("AdditionalVersionWeights")


def _throttles(server, minute):
    rows = testing.ledger(server, function="payments-worker", start=minute, end=minute + timedelta(minutes=3))
    return sum(r.get("throttles", 0) for r in rows), sum(r.get("invocations", 0) for r in rows)


def test_traffic_follows_live_reserved_concurrency_and_event_source_state(clean):
    server = clean
    testing.seed_estate(server, small=True)
    from sandbox.estate import PROD_ACCOUNT_ID, session_for

    lam = session_for(server.endpoint, PROD_ACCOUNT_ID, "us-east-1").client("lambda", endpoint_url=server.endpoint)
    t0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    testing.generate(server, start=t0, minutes=3, seed=3)
    throttles, invocations = _throttles(server, t0)
    assert invocations > 0 and throttles == 0

    lam.put_function_concurrency(FunctionName="payments-worker", ReservedConcurrentExecutions=0)
    t1 = t0 + timedelta(minutes=3)
    testing.generate(server, start=t1, minutes=3, seed=3)
    throttles, invocations = _throttles(server, t1)
    assert invocations == 0 and throttles > 0  # every invocation throttled

    lam.delete_function_concurrency(FunctionName="payments-worker")
    esm = lam.list_event_source_mappings(FunctionName="payments-worker")["EventSourceMappings"][0]
    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)
    t2 = t1 + timedelta(minutes=3)
    testing.generate(server, start=t2, minutes=3, seed=3)
    assert _throttles(server, t2) == (0, 0)  # nothing consumed

    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    t3 = t2 + timedelta(minutes=3)
    testing.generate(server, start=t3, minutes=3, seed=3)
    assert _throttles(server, t3)[1] > 0
