import pytest
from django.urls import reverse
from django.utils import timezone

from ops.models import AliasChange, PollStatus, Role
from tests.factories import AccountFactory, AliasFactory, FunctionFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client):
    client.force_login(make_user(Role.VIEWER))
    return client


def test_functions_list_filters_and_pages(viewer_client):
    prod = AccountFactory(name="prod")
    staging = AccountFactory(name="staging")
    for i in range(60):
        FunctionFactory(account=prod, name=f"api-{i:02d}", runtime="python3.12", tags={"team": "pay"})
    FunctionFactory(account=staging, name="worker", region="eu-west-1", runtime="nodejs20.x", tags={"team": "ops"})
    FunctionFactory(account=prod, name="old-one", gone_at=timezone.now())

    page1 = viewer_client.get(reverse("functions")).context["page"]
    assert page1.paginator.count == 61 and len(page1.object_list) == 50
    assert list(viewer_client.get(reverse("functions"), {"page": 2}).context["page"].object_list)[-1].name == "worker"

    def names(**params):
        return [f.name for f in viewer_client.get(reverse("functions"), params).context["page"].object_list]

    assert names(region="eu-west-1") == ["worker"]
    assert names(runtime="nodejs20.x") == ["worker"]
    assert names(account="staging") == ["worker"]
    assert names(tag="team=ops") == ["worker"]
    assert names(q="API-5") == [f"api-{i}" for i in range(50, 60)]
    assert "old-one" in names(q="old", gone="1") and names(q="old") == []


@pytest.mark.parametrize("rows", [3, 40])
def test_functions_list_query_count_is_independent_of_rows(viewer_client, django_assert_num_queries, rows):
    account = AccountFactory()
    for _ in range(rows):
        fn = FunctionFactory(account=account)
        AliasFactory(function=fn, name="live")
    # session, user, 2 permission lookups, count, page, aliases prefetch, 4 filter-choice lists
    with django_assert_num_queries(11):
        response = viewer_client.get(reverse("functions"))
    assert len(response.context["page"].object_list) == rows


def test_empty_functions_list_says_why(viewer_client):
    body = viewer_client.get(reverse("functions")).content.decode()
    assert "the inventory poller has not found any" in body


def test_function_page_shows_header_aliases_and_last_deploy(viewer_client):
    fn = FunctionFactory(name="payments-api", memory_mb=1024, timeout_s=6, architecture="arm64")
    alias = AliasFactory(function=fn, name="live", version="43", weights={"42": 0.1})
    AliasChange.objects.create(alias=alias, function=fn, at=timezone.now(), from_version="42", to_version="43", source="observed")
    body = viewer_client.get(reverse("function", args=[fn.pk])).content.decode()
    assert "payments-api" in body and "1024 MB" in body and "timeout 6 s" in body and "arm64" in body
    assert "live → v43 (90 %) + v42 (10 %)" in body
    assert "live → v43)" in body  # last deploy
    assert "console.aws.amazon.com/lambda" in body


def test_function_page_says_when_its_account_fails_to_poll(viewer_client):
    fn = FunctionFactory()
    PollStatus.objects.create(
        source="metrics",
        account=fn.account,
        region=fn.region,
        last_error_at=timezone.now(),
        last_error_code="AccessDenied",
        last_error_message="not authorized to perform cloudwatch:GetMetricData",
    )
    body = viewer_client.get(reverse("function", args=[fn.pk])).content.decode()
    assert "AccessDenied" in body and "cloudwatch:GetMetricData" in body


def test_status_page_lists_polls_and_errors(viewer_client):
    account = AccountFactory(name="prod", regions=["us-east-1", "eu-west-1"])
    PollStatus.objects.create(
        source="inventory", account=account, region="us-east-1", last_success_at=timezone.now(), items=12
    )
    PollStatus.objects.create(
        source="inventory",
        account=account,
        region="eu-west-1",
        last_error_at=timezone.now(),
        last_error_code="AccessDeniedException",
        last_error_message="User is not authorized",
        consecutive_failures=3,
    )
    body = viewer_client.get(reverse("status")).content.decode()
    assert "AccessDeniedException" in body and "never succeeded" in body
    assert "poll now" not in body  # viewers get no action buttons


def test_unknown_function_is_404(viewer_client):
    assert viewer_client.get(reverse("function", args=[999999])).status_code == 404
