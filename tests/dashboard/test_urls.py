"""Every route, as the URL resolver lists it, walked with hostile values: never a 5xx.

Routes are discovered, not listed here, so one added later is walked too. Path converters are
filled with plausible values (the estate's ids) and hostile ones; each candidate path is kept
only if it resolves back to the same view, and every route must get at least one. The corpus
(NUL, control characters, 10 kB, wrong types, unknown choices, malformed and swapped dates,
unicode, bytes that are not UTF-8) goes in as query parameters on GET and HEAD and as form
values on POST, as a viewer and as an operator. Under /api/ every answer must be JSON and
every error carry {"error": …}; a 400 for one bad parameter must name it.
"""

from __future__ import annotations

import itertools
import json
from urllib.parse import quote, urlencode

import pytest
from django.urls import URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils.regex_helper import normalize

from ops.models import Role
from tests.clock import hours_ago, iso_s
from tests.factories import make_user

LATER, EARLIER = iso_s(hours_ago(3)), iso_s(hours_ago(4))  # computed from now, as every test date

pytestmark = pytest.mark.django_db

# Every parameter name a page, the API or a form reads today, plus a few that routes commonly read.
PARAMS = [
    "range", "start", "end", "sort", "page", "per_page", "q", "account", "region", "runtime", "tag", "gone",
    "metric", "ts", "step", "idempotency_key", "next", "o", "p", "e", "id", "username", "password",
    "text", "json_path", "group", "since", "until", "show",
]
PARAMS += ["errors", "cold", "slower", "version", "group"]  # the trace list's filters

HOSTILE = [
    "\x00", "a\x00b", "\x1b[31mred", "line\nbreak", "\ttab", "\x7f", "\x85", "x" * 10_000,
    "-1", "0", "1.5", "1e308", "NaN", "-Infinity", "99999999999999999999", "٣", "1_000", "abc", "[]", "{}",
    "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "custom", "-error_rate", "-",
    "2026-13-45T99:99:99Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "99999999999999999999999",
    "ü🔥\u202eevil", "\ufeff", " ",
]
# Raw query strings: bytes that are not UTF-8, a key with no value, a NUL in a key, repeats.
RAW_QUERIES = ["q=%FF%FE", "range", "%00=1", "range=1h&range=%00", "q=%C0%80", "start=%ED%A0%80&end=1"]
# Custom ranges: swapped, empty, one-sided, before the epoch, absurd epoch milliseconds.
RANGES = [
    {"range": "custom", "start": LATER, "end": EARLIER},
    {"range": "custom", "start": LATER, "end": LATER},
    {"range": "custom", "start": LATER},
    {"end": LATER},
    {"range": "custom", "start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"},
    {"start": "1", "end": "99999999999999999999"},
    {"range": "6h", "start": "\x00", "end": "nope"},
]
PATH_VALUES = ["1", "0", "99999999999999999999", "x", "ops", "auth", quote("ü"), "a" * 300, quote("\x00")]


def _routes():
    """(label, pattern, URL format strings) for every endpoint, includes flattened."""

    def walk(resolver, prefix):
        for p in resolver.url_patterns:
            regex = prefix + p.pattern.regex.pattern.lstrip("^")
            if isinstance(p, URLResolver):
                yield from walk(p, regex)
            else:
                yield p, regex

    for pattern, regex in walk(get_resolver(), ""):
        yield f"{pattern.name or regex}", pattern, normalize(regex)


def _paths(pattern, forms, plausible: list[str]) -> list[str]:
    """Concrete paths for a route: every converter filled from the pools, kept if they resolve
    back to this very route."""
    out: list[str] = []
    for fmt, names in forms:
        for values in itertools.islice(itertools.product(plausible + PATH_VALUES, repeat=len(names)), 60):
            path = "/" + fmt % dict(zip(names, values))
            try:
                match = resolve(path.split("?")[0])
            except Resolver404:
                continue
            if match.func is pattern.callback and path not in out:
                out.append(path)
    # Two per route: the plausible one (the estate's ids: the page itself renders) and one that a
    # converter's garbage still resolves (the view's own lookup must 404, not fail).
    return out[:2]


def _check(resp, path: str, *, single: str | None = None):
    where = f"{resp.request['REQUEST_METHOD']} {path} {resp.request.get('QUERY_STRING', '')[:120]!r}"
    # /healthz answers 503 by design when polling is failing: the estate's poll times are fixed
    # when the walk starts, and a walk that outlasts POLL_FAILING_CYCLES sees them as failing.
    designed = path == "/healthz" and resp.status_code == 503 and resp["Content-Type"].startswith("application/json")
    assert resp.status_code < 500 or designed, where
    if path.startswith("/api/"):
        assert resp["Content-Type"].startswith("application/json"), where
        if resp.request["REQUEST_METHOD"] != "HEAD":
            body = json.loads(resp.content)
            if resp.status_code >= 400:
                assert body["error"], where
                if single and resp.status_code == 400:
                    assert _names_a_parameter(body["error"], single), where
    elif single and resp.status_code == 400:
        assert _names_a_parameter(resp.content.decode(errors="replace"), single), where


def _names_a_parameter(text: str, name: str) -> bool:
    """The bad one, or (when the fault is a parameter that is missing) the one it needs."""
    return f"{name}:" in text or any(f"{p}: " in text and "required" in text for p in PARAMS)


@pytest.fixture
def routes(estate):
    plausible = [str(estate.bad.pk), str(estate.account.pk)]
    found = []
    for label, pattern, forms in _routes():
        paths = _paths(pattern, forms, plausible)
        assert paths, f"the walk cannot fill the converters of {label}; extend PATH_VALUES"
        found.append((label, paths))
    return found


def _request(client, user, method: str, path: str, query: str = "", data: dict | None = None):
    url = f"{path}?{query}" if query else path
    if method == "POST":
        resp = client.post(url, data or {})
    else:
        resp = getattr(client, method.lower())(url)
    # A walk through logout must not walk the rest anonymously.
    if "sessionid" in resp.cookies and not resp.cookies["sessionid"].value:
        client.force_login(user)
    return resp


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_every_route_answers_hostile_queries_without_a_server_error(client, routes, role):
    user = make_user(role, username=f"walker-{role}")
    client.force_login(user)
    count = 0
    for r, (label, paths) in enumerate(routes):
        # The admin's routes are Django's own, and closed to viewers and operators: one path each.
        app_route = not paths[0].startswith("/admin/")
        # Each route gets a rotating slice of the corpus (a fifth as a viewer, a tenth as an
        # operator, whose pages are the viewer's plus their action links); neighbouring routes
        # get the other slices, so the walk as a whole sends every value to every kind of page.
        step = (5 if role == Role.VIEWER else 10) if app_route else 8
        corpus = HOSTILE[r % step :: step]
        for n, path in enumerate(paths if app_route else paths[:1]):
            # Every parameter at once, one hostile value at a time.
            for value in corpus:
                _check(_request(client, user, "GET", path, urlencode({p: value for p in PARAMS})), path)
            _check(_request(client, user, "HEAD", path, urlencode({p: HOSTILE[r % len(HOSTILE)] for p in PARAMS})), path)
            count += len(corpus) + 1
            if n > 0:
                continue  # the second path is the one whose lookup must 404: the values above reach it
            if role != Role.VIEWER:
                continue  # query parsing is the same whoever asks: the viewer's walk holds it
            queries = RAW_QUERIES + [urlencode(q) for q in RANGES]
            for query in queries if app_route else queries[::3]:
                _check(_request(client, user, "GET", path, query), path)
                count += 1
            if not app_route:
                continue
            # One parameter at a time (the rest absent), so a 400 can be held to naming it: every
            # other parameter a route, one value each, both rotating with the route.
            for i, name in list(enumerate(PARAMS))[r % 2 :: 2]:
                value = HOSTILE[(i + r) % len(HOSTILE)]
                _check(_request(client, user, "GET", path, urlencode({name: value})), path, single=name)
                count += 1
    assert count > (1500 if role == Role.VIEWER else 500)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_every_route_answers_hostile_form_posts_without_a_server_error(client, routes, role, monkeypatch):
    from ops.tasks import actions

    monkeypatch.setattr(actions.job_run, "delay", lambda *a: None)  # no broker needed for poll-now
    user = make_user(role, username=f"poster-{role}")
    client.force_login(user)
    for r, (label, paths) in enumerate(routes):
        app_route = not paths[0].startswith("/admin/")
        for path in paths[:1]:
            # Form values meet the edge middleware and the form's own cleaning: a rotating sixth
            # of the corpus a route (an eighth on the admin's), all of it over neighbouring routes.
            step = 6 if app_route else 8
            for value in HOSTILE[r % step :: step]:
                _check(_request(client, user, "POST", path, data={p: value for p in PARAMS}), path)
            _check(_request(client, user, "POST", path, query="q=%00", data={}), path)


def test_the_admin_answers_hostile_queries_to_an_admin_without_a_server_error(client, routes):
    """Django's admin reads its own parameters (search, filters, ordering, paging): walked as a
    superuser with a rotating eighth of the corpus a route, GET only (a POST there would change data)."""
    from ops.services.users import user_create

    admin = user_create(username="walker-admin", password="correct-horse-42", role=Role.OPERATOR, admin=True)
    client.force_login(admin)
    admin_params = PARAMS + ["action__exact", "result__exact", "enabled__exact", "revoked_at__isnull", "_changelist_filters"]
    for r, (label, paths) in enumerate(routes):
        if not paths[0].startswith("/admin/"):
            continue
        for path in paths[:2]:
            for value in HOSTILE[r % 8 :: 8]:
                _check(_request(client, admin, "GET", path, urlencode({p: value for p in admin_params})), path)
            _check(_request(client, admin, "GET", path, "q=%00"), path)
