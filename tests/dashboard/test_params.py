"""dashboard/params.py: each cleaner's verdicts, a page's notice for a refused value, the middleware's net."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.urls import reverse

from dashboard import params
from dashboard.params import ParamError
from ops.models import Role
from ops.selectors.inventory import FunctionFilters
from ops.services.users import user_create
from tests.clock import hours_ago, iso_s

LATER, EARLIER = iso_s(hours_ago(3)), iso_s(hours_ago(4))  # computed from now, as every test date

pytestmark = pytest.mark.django_db


def q(**values) -> QueryDict:
    out = QueryDict(mutable=True)
    for k, v in values.items():
        out[k] = v
    return out


@pytest.mark.parametrize("value,expected", [("abc", "abc"), ("  x  ", "x"), ("", ""), ("ü🔥", "ü🔥")])
def test_text_keeps_ordinary_values(value, expected):
    assert params.text(q(q=value), "q") == expected


@pytest.mark.parametrize("value,message", [
    ("a\x00b", "q: must not contain NUL or control characters"),
    ("\x1b[31m", "q: must not contain NUL or control characters"),
    ("a\nb", "q: must not contain NUL or control characters"),
    ("\x85", "q: must not contain NUL or control characters"),
    ("x" * 10_000, "q: is 10,000 characters long; at most 128 are accepted"),
])
def test_text_refuses_control_characters_and_long_values_naming_the_parameter(value, message):
    with pytest.raises(ParamError) as err:
        params.text(q(q=value), "q")
    assert str(err.value) == message and err.value.name == "q"


@pytest.mark.parametrize("value,result", [("", 1), ("1", 1), (" 7 ", 7), ("100000", 100000)])
def test_page_numbers(value, result):
    assert params.page(q(page=value)) == result


@pytest.mark.parametrize("value,message", [
    ("abc", "page: must be a whole number"),
    ("1.5", "page: must be a whole number"),
    ("1_000", "page: must be a whole number"),
    ("٣", "page: must be a whole number"),
    ("99999999999999999999", "page: must be a whole number"),
    ("0", "page: must be between 1 and 100,000"),
    ("-3", "page: must be between 1 and 100,000"),
])
def test_page_refuses_what_is_not_a_page(value, message):
    with pytest.raises(ParamError, match=message):
        params.page(q(page=value))


def test_sort_and_filters():
    assert params.fleet_sort(q()) == "-error_rate"
    assert params.fleet_sort(q(sort="-cost")) == "-cost"
    with pytest.raises(ParamError, match="sort: must be one of name, -name, invocations"):
        params.fleet_sort(q(sort="price"))
    assert params.function_filters(q(q="pay", region="us-east-1", gone="1", tag="team=pay")) == FunctionFilters(
        q="pay", region="us-east-1", tag="team=pay", include_gone=True
    )
    with pytest.raises(ParamError, match="gone: must be one of 0, 1"):
        params.function_filters(q(gone="yes"))
    with pytest.raises(ParamError, match="region: is 40 characters long; at most 32"):
        params.function_filters(q(region="r" * 40))


def test_time_ranges():
    assert params.time_range(q(), default="6h").key == "6h"
    assert params.time_range(q(range="7d", start="junk"), default="6h").key == "7d"  # a preset ignores start/end
    start = hours_ago(3)
    tr = params.time_range(q(range="custom", start=iso_s(start), end=iso_s(start + timedelta(hours=2))), default="6h")
    assert (tr.key, tr.start, tr.end) == ("custom", start, start + timedelta(hours=2))
    ms = int(start.timestamp() * 1000)
    assert params.time_range(q(start=str(ms), end=str(ms + 3_600_000)), default="6h").start == start


def test_presets_and_custom_ranges_parse_and_a_custom_range_round_trips_its_query():
    now = hours_ago(1) + timedelta(seconds=30)  # half a minute into a whole hour
    hour = now.replace(second=0)
    r = params.time_range({"range": "6h"}, default="24h", now=now)
    assert r.key == "6h" and r.seconds == 6 * 3600 and r.end == hour + timedelta(minutes=1)
    assert params.time_range({}, default="24h", now=now).key == "24h"
    start = hour - timedelta(days=3, hours=2)
    c = params.time_range({"range": "custom", "start": iso_s(start), "end": iso_s(start + timedelta(hours=2))}, default="24h", now=now)
    assert (c.key, c.seconds) == ("custom", 7200)
    assert params.time_range(c.as_query(), default="24h", now=now) == c
    epoch_ms = int((hour - timedelta(days=365, hours=2)).timestamp() * 1000)
    ms = params.time_range({"start": str(epoch_ms), "end": str(epoch_ms + 3600_000)}, default="24h", now=now)
    assert ms.seconds == 3600
    # a custom end in the future is clamped to now
    future = {"start": iso_s(hour - timedelta(hours=1)), "end": iso_s(hour + timedelta(days=39, hours=12))}
    assert params.time_range(future, default="24h", now=now).end <= now + timedelta(minutes=1)


@pytest.mark.parametrize("values,message", [
    ({"range": "2d"}, "range: must be one of 1h, 6h, 24h, 7d, 30d, custom"),
    ({"range": "custom"}, "start: is required: a custom range needs both start and end"),
    ({"range": "custom", "start": LATER}, "end: is required"),
    ({"end": LATER}, "start: is required"),
    ({"start": LATER, "end": EARLIER}, "end: must be after start"),
    ({"start": LATER, "end": LATER}, "end: must be after start"),
    ({"start": "2026-13-45T99:99:99Z", "end": LATER}, "start: must be an ISO 8601 time"),
    ({"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"}, "start: must lie between the years 1970 and 2200"),
    ({"start": "1", "end": "99999999999999999999"}, "end: must be an ISO 8601 time"),
])
def test_time_range_refusals_name_the_parameter(values, message):
    with pytest.raises(ParamError, match=message):
        params.time_range(q(**values), default="6h")


def test_a_page_drops_a_refused_value_shows_why_and_answers_400(client_in, estate):
    resp = client_in.get(reverse("overview"), {"range": "2d", "sort": "price", "region": "us-east-1"})
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "Ignored range: must be one of 1h, 6h, 24h, 7d, 30d, custom." in html
    assert "Ignored sort: must be one of name, -name" in html
    # the rest of the request still applies, the defaults stand in for what was dropped
    assert resp.context["time_range"].key == "24h" and resp.context["filters"].region == "us-east-1"
    assert "payments-api" in html
    # an absent partner drops the range as a whole
    resp = client_in.get(reverse("function", args=[estate.bad.pk]), {"range": "custom", "start": LATER})
    assert resp.status_code == 400 and resp.context["time_range"].key == "6h"
    assert "Ignored end: is required: a custom range needs both start and end." in resp.content.decode()


def test_fragments_answer_a_short_400(client_in, estate):
    resp = client_in.get(reverse("function-minute", args=[estate.bad.pk]), {"ts": "soon"})
    assert resp.status_code == 400 and resp.content.decode().startswith("ts: must be an ISO 8601 time")
    resp = client_in.get(reverse("function-minute", args=[estate.bad.pk]), {"ts": iso_s(hours_ago(1)), "step": "x"})
    assert (resp.status_code, resp.content) == (400, b"step: must be a whole number")
    resp = client_in.get(reverse("function-charts", args=[estate.bad.pk]), {"range": "\t"})
    assert resp.status_code == 400 and b"range: must not contain NUL" in resp.content


def test_the_middleware_refuses_nul_anywhere_even_in_the_admin(client):
    admin = user_create(username="root-admin", password="correct-horse-42", role=Role.OPERATOR, admin=True)
    client.force_login(admin)
    # The admin's own search would send the NUL to Postgres, which refuses it (a 500 before).
    resp = client.get("/admin/ops/account/", {"q": "a\x00b"})
    assert resp.status_code == 400 and "q: must not contain NUL or control characters" in resp.content.decode()
    resp = client.post("/admin/ops/account/add/", {"name": "prod\x00", "account_id": "123456789012"})
    assert resp.status_code == 400 and "name: must not contain NUL" in resp.content.decode()
    # a textarea's line breaks are fine in a form body
    resp = client.post("/admin/ops/account/add/", {"name": "prod", "account_id": "1\r\n2"})
    assert resp.status_code == 200  # the form's own validation answers
    # a hostile parameter name is not echoed
    resp = client.get("/status/?%00%1b=1")
    assert resp.status_code == 400 and "a parameter name: must not contain NUL" in resp.content.decode()
    # views that clean their own query answer it themselves: the API in JSON, a page with its notice
    resp = client.get("/api/v1/fleet?q=%00")
    assert resp.status_code == 400 and resp.json() == {
        "error": "q: must not contain NUL or control characters", "param": "q"
    }
    resp = client.get("/functions/?q=%00&region=us-east-1")
    assert resp.status_code == 400 and resp.context["filters"].region == "us-east-1"
    assert "Ignored q: must not contain NUL or control characters." in resp.content.decode()


def test_a_logged_out_request_with_a_control_character_is_sent_to_the_login_page(client):
    resp = client.get("/status/", {"q": "a\x00b"})
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("login") + "?next=/status/")
    # the views that need no login are still guarded: the login form itself refuses a NUL
    resp = client.post(reverse("login"), {"username": "vera\x00", "password": "x"})
    assert resp.status_code == 400 and "username: must not contain NUL" in resp.content.decode()
